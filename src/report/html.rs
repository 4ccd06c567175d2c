//! The HTML report: one self-contained page a change board opens in a browser, for a plan
//! (dry run) or a finished run. Summary first (counts, totals, state transitions with a chart,
//! throughput), then every failed or not-found row, then every record.
//!
//! The page fetches nothing: styles are inline, the chart is inline SVG, and the only script is
//! a small constant that filters the big table. Everything a reader needs works without that
//! script (the filter controls stay hidden and the whole table shows). Every value from the
//! records, the title and the path is HTML-escaped: user names and Graph messages are
//! untrusted text. No record data ever goes inside the `<script>` element.
//!
//! Summary cells carry machine-readable hooks for scripts and tests: totals
//! `data-status="failed" data-count="3"`, per-action cells add `data-action`, transitions
//! `data-from`/`data-to`/`data-count`, run figures `data-stat`/`data-value`, problem rows
//! `data-row`.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::summary::Summary;
use crate::figures::{duration, plural, rate, thousands};
use crate::journal::{ResultRecord, Status};

/// Above this many records the filter waits longer after typing before it scans the table.
const LARGE: usize = 20_000;
/// `write_html` hands the page to the file in pieces of about this size.
const CHUNK: usize = 1 << 16;

/// Renders the report page for `records` and their `summary` (built from the same records
/// with [`Summary::from_records`]). `title` is shown as the page's heading.
#[cfg(test)]
#[must_use]
pub(crate) fn render_html(records: &[ResultRecord], summary: &Summary, title: &str) -> String {
    let page = Page::new(records, summary, title, OffsetDateTime::now_utc());
    let mut out = String::with_capacity(8_192 + records.len() * 160);
    // Collecting into a string cannot fail.
    let _ = page.render(&mut out, |_| Ok(()));
    out
}

/// Writes the report page to `path`, atomically ([`crate::atomic_file`]), so a reader sees
/// the old page or the new one, never half of one. The page is streamed, not built in memory
/// first.
///
/// # Errors
/// The I/O error that stopped the write; no temp file is left behind.
pub(crate) fn write_html(
    path: &Path,
    records: &[ResultRecord],
    summary: &Summary,
    title: &str,
) -> Result<(), io::Error> {
    let page = Page::new(records, summary, title, OffsetDateTime::now_utc());
    crate::atomic_file::replace_with(path, |file| {
        let mut buf = String::with_capacity(CHUNK + 4_096);
        page.render(&mut buf, |buf| {
            file.write_all(buf.as_bytes())?;
            buf.clear();
            Ok(())
        })?;
        file.write_all(buf.as_bytes())
    })?;
    Ok(())
}

/// Appends `text` to `out` with `& < > " '` escaped: safe in element content and in quoted
/// attribute values.
fn esc(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// Everything one page shows.
struct Page<'a> {
    records: &'a [ResultRecord],
    summary: &'a Summary,
    title: &'a str,
    generated: OffsetDateTime,
}

impl<'a> Page<'a> {
    fn new(
        records: &'a [ResultRecord],
        summary: &'a Summary,
        title: &'a str,
        generated: OffsetDateTime,
    ) -> Self {
        Page {
            records,
            summary,
            title,
            generated,
        }
    }

    /// Writes the page into `out`, calling `flush` whenever `out` holds a chunk's worth (the
    /// flush may empty it). The last piece stays in `out`.
    fn render(
        &self,
        out: &mut String,
        mut flush: impl FnMut(&mut String) -> io::Result<()>,
    ) -> io::Result<()> {
        self.head(out);
        self.summary_section(out);
        self.problems_section(out, &mut flush)?;
        self.rows_open(out);
        for r in self.records {
            row(out, r);
            if out.len() >= CHUNK {
                flush(out)?;
            }
        }
        out.push_str("</tbody></table></div>\n</section>\n");
        self.foot(out);
        Ok(())
    }

    fn head(&self, out: &mut String) {
        let s = self.summary;
        out.push_str(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"mfa-rollout ",
        );
        out.push_str(env!("CARGO_PKG_VERSION"));
        out.push_str("\">\n<title>");
        esc(out, self.title);
        out.push_str("</title>\n<style>");
        out.push_str(STYLE);
        out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>");
        esc(out, self.title);
        out.push_str("</h1>\n<p class=\"meta\">");
        if s.dry_run() {
            out.push_str(
                "<span class=\"kind plan\" data-kind=\"plan\">Plan (dry run): nothing was changed</span>",
            );
        } else {
            out.push_str("<span class=\"kind run\" data-kind=\"run\">Applied run</span>");
        }
        let machine = self
            .generated
            .replace_nanosecond(0)
            .unwrap_or(self.generated)
            .format(&Rfc3339)
            .unwrap_or_default();
        let human = self
            .generated
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .unwrap_or_default();
        let _ = write!(
            out,
            " · generated <time datetime=\"{machine}\">{human}</time>"
        );
        if let Some(path) = s.results_path() {
            out.push_str(" · results <code class=\"path\">");
            esc(out, &path.display().to_string());
            out.push_str("</code>");
        }
        out.push_str("</p>\n<nav class=\"toc\"><a href=\"#summary\">Summary</a> <a href=\"#problems\">Problems</a> <a href=\"#rows\">All rows</a></nav>\n</header>\n<main>\n");
    }

    fn summary_section(&self, out: &mut String) {
        let s = self.summary;
        out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<p class=\"lead\">");
        let (changes, rows) = (s.changes(), s.rows());
        if s.dry_run() {
            let _ = write!(
                out,
                "<strong>{}</strong> {} would be made for {} {}. Nothing was changed.",
                thousands(changes),
                plural(changes, "change", "changes"),
                thousands(rows),
                plural(rows, "row", "rows"),
            );
        } else {
            let _ = write!(
                out,
                "{} {}, <strong>{}</strong> {} made.",
                thousands(rows),
                plural(rows, "row", "rows"),
                thousands(changes),
                plural(changes, "change", "changes"),
            );
        }
        let problems = s.problems();
        if problems > 0 {
            let _ = write!(
                out,
                " <a class=\"st-failed\" href=\"#problems\">{} {} failed, not found or invalid.</a>",
                thousands(problems),
                plural(problems, "record", "records"),
            );
        }
        out.push_str("</p>\n");
        self.tenants(out);
        self.totals(out);
        self.stats(out);
        self.counts(out);
        self.transitions(out);
        self.states(out);
        out.push_str("</section>\n");
    }

    /// A many-tenant run's tenants, each with its counts, rate and stop reason, before the
    /// totals.
    fn tenants(&self, out: &mut String) {
        let lines = self.summary.tenants();
        if lines.is_empty() {
            return;
        }
        out.push_str("<h3>Per tenant</h3>\n<div class=\"scroll fit\"><table class=\"tenants\">\n<thead><tr><th scope=\"col\">tenant</th><th scope=\"col\" class=\"num\">rows</th><th scope=\"col\" class=\"num\">changes</th><th scope=\"col\" class=\"num\">failed or not found</th><th scope=\"col\" class=\"num\">writes/s</th><th scope=\"col\">outcome</th></tr></thead>\n<tbody>\n");
        for l in lines {
            out.push_str("<tr><th scope=\"row\">");
            esc(out, &l.tenant);
            let _ = write!(
                out,
                "</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
                thousands(l.rows),
                thousands(l.changes()),
                thousands(l.bad()),
                l.writes_per_second()
                    .map_or_else(String::new, crate::figures::rate),
            );
            match &l.stop {
                Some(why) => {
                    out.push_str("<td class=\"st-failed\">stopped: ");
                    esc(out, why);
                    out.push_str("</td></tr>\n");
                }
                None => out.push_str("<td>done</td></tr>\n"),
            }
        }
        out.push_str("</tbody></table></div>\n");
    }

    /// One tile per status that occurs, plus failed and not_found always (a zero there is news).
    fn totals(&self, out: &mut String) {
        out.push_str("<div class=\"tiles\">\n");
        for status in Status::ALL {
            let n = self.summary.total(status);
            if n == 0 && !matches!(status, Status::Failed | Status::NotFound) {
                continue;
            }
            let name = status.as_str();
            let zero = if n == 0 { " zero" } else { "" };
            let _ = writeln!(
                out,
                "<div class=\"tile st-{name}{zero}\" data-status=\"{name}\" data-count=\"{n}\"><span class=\"n\">{}</span> <span class=\"l\">{}</span></div>",
                thousands(n),
                status_label(status),
            );
        }
        out.push_str("</div>\n");
    }

    fn stats(&self, out: &mut String) {
        let s = self.summary;
        let Some(stats) = s.stats() else {
            return;
        };
        out.push_str("<dl class=\"stats\">\n");
        let mut item = |key: &str, label: &str, value: String, text: String| {
            let _ = writeln!(
                out,
                "<div><dt>{label}</dt><dd data-stat=\"{key}\" data-value=\"{value}\">{text}</dd></div>"
            );
        };
        item(
            "elapsed_seconds",
            "elapsed",
            format!("{:.2}", stats.elapsed.as_secs_f64()),
            duration(stats.elapsed),
        );
        if let (Some(w), Some(r)) = (s.per_second(stats.writes), s.per_second(stats.reads)) {
            item("writes_per_second", "writes/s", format!("{w:.2}"), rate(w));
            item("reads_per_second", "reads/s", format!("{r:.2}"), rate(r));
        }
        let counted = [
            ("writes", "writes sent", stats.writes),
            ("reads", "reads sent", stats.reads),
            ("throttled", "throttled (429)", stats.throttled),
            ("retries", "retries", stats.retries),
        ];
        for (key, label, n) in counted {
            item(key, label, n.to_string(), thousands(n));
        }
        out.push_str("</dl>\n");
    }

    /// Action × status, with the statuses that occur as columns.
    fn counts(&self, out: &mut String) {
        let s = self.summary;
        if s.counts().is_empty() {
            out.push_str("<p class=\"empty\">No records.</p>\n");
            return;
        }
        let columns: Vec<Status> = Status::ALL
            .into_iter()
            .filter(|st| s.total(*st) > 0)
            .collect();
        out.push_str("<h3>Per action</h3>\n<div class=\"scroll fit\"><table class=\"counts\">\n<thead><tr><th scope=\"col\">action</th>");
        for st in &columns {
            let _ = write!(
                out,
                "<th scope=\"col\" class=\"num st-{0}\">{0}</th>",
                st.as_str()
            );
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (action, _) in s.counts() {
            out.push_str("<tr><th scope=\"row\">");
            esc(out, action);
            out.push_str("</th>");
            for st in &columns {
                let n = s.count(action, *st);
                out.push_str("<td class=\"num\" data-action=\"");
                esc(out, action);
                let _ = write!(
                    out,
                    "\" data-status=\"{}\" data-count=\"{n}\">{}</td>",
                    st.as_str(),
                    thousands(n)
                );
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n");
        if s.counts().len() > 1 {
            out.push_str("<tfoot><tr><th scope=\"row\">total</th>");
            for st in &columns {
                let _ = write!(out, "<td class=\"num\">{}</td>", thousands(s.total(*st)));
            }
            out.push_str("</tr></tfoot>\n");
        }
        out.push_str("</table></div>\n");
    }

    /// State transitions as text and as bars (inline SVG: no script, prints in colour).
    fn transitions(&self, out: &mut String) {
        let s = self.summary;
        out.push_str(if s.dry_run() {
            "<h3>Planned state changes</h3>\n"
        } else {
            "<h3>State changes</h3>\n"
        });
        let transitions = s.transitions();
        if transitions.is_empty() {
            out.push_str("<p class=\"empty\">No per-user MFA state changes.</p>\n");
            return;
        }
        let max = transitions
            .iter()
            .map(|t| t.count)
            .max()
            .unwrap_or(1)
            .max(1);
        out.push_str("<table class=\"chart\">\n<thead><tr><th scope=\"col\">from → to</th><th scope=\"col\" class=\"num\">users</th><th scope=\"col\" class=\"bar\"><span class=\"sr\">share</span></th></tr></thead>\n<tbody>\n");
        for t in transitions {
            // A bar 0..=1000 wide, never invisible for a non-zero count.
            let width = (u128::from(t.count) * 1000 / u128::from(max)).max(4);
            out.push_str("<tr data-from=\"");
            esc(out, &t.from);
            out.push_str("\" data-to=\"");
            esc(out, &t.to);
            let _ = write!(out, "\" data-count=\"{}\"><th scope=\"row\">", t.count);
            esc(out, &t.from);
            out.push_str(" → ");
            esc(out, &t.to);
            let _ = writeln!(
                out,
                "</th><td class=\"num\">{}</td><td class=\"bar\"><svg viewBox=\"0 0 1000 10\" preserveAspectRatio=\"none\" aria-hidden=\"true\" focusable=\"false\"><rect width=\"{width}\" height=\"10\"/></svg></td></tr>",
                thousands(t.count)
            );
        }
        out.push_str("</tbody></table>\n");
    }

    /// Users per state before and after (now and planned, for a plan).
    fn states(&self, out: &mut String) {
        let s = self.summary;
        if s.states().is_empty() {
            return;
        }
        let (before, after) = if s.dry_run() {
            ("current", "planned")
        } else {
            ("before", "after")
        };
        let _ = write!(
            out,
            "<h3>Per-user MFA state</h3>\n<div class=\"scroll fit\"><table class=\"states\">\n<thead><tr><th scope=\"col\">state</th><th scope=\"col\" class=\"num\">{before}</th><th scope=\"col\" class=\"num\">{after}</th></tr></thead>\n<tbody>\n"
        );
        for st in s.states() {
            out.push_str("<tr><th scope=\"row\">");
            esc(out, &st.state);
            let _ = writeln!(
                out,
                "</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                thousands(st.before),
                thousands(st.after)
            );
        }
        out.push_str("</tbody></table></div>\n");
    }

    /// Every failed and not_found record, in the records' order. Never truncated.
    fn problems_section(
        &self,
        out: &mut String,
        flush: &mut impl FnMut(&mut String) -> io::Result<()>,
    ) -> io::Result<()> {
        let n = self.summary.problems();
        let _ = writeln!(
            out,
            "<section id=\"problems\">\n<h2>Problems <span class=\"count\">({})</span></h2>",
            thousands(n)
        );
        if n == 0 {
            out.push_str(
                "<p class=\"empty\">No failed, not-found or invalid rows.</p>\n</section>\n",
            );
            return Ok(());
        }
        out.push_str(
            "<p>Every failed, not-found and invalid record. Quote the request id to Microsoft support.</p>\n\
             <div class=\"scroll\"><table class=\"problems\">\n<thead><tr><th scope=\"col\" class=\"num\">row</th><th scope=\"col\">user</th><th scope=\"col\">action</th><th scope=\"col\">status</th><th scope=\"col\" class=\"num\">HTTP</th><th scope=\"col\">error code</th><th scope=\"col\">message</th><th scope=\"col\">request id</th></tr></thead>\n<tbody>\n",
        );
        let problems = self.records.iter().filter(|r| {
            matches!(
                r.status,
                Status::Failed | Status::NotFound | Status::Invalid
            )
        });
        for r in problems {
            let status = r.status.as_str();
            let _ = write!(
                out,
                "<tr data-row=\"{0}\"><td class=\"num\" data-label=\"row\">{0}</td><td class=\"user\" data-label=\"user\">",
                r.row
            );
            esc(out, &r.user);
            out.push_str("</td><td data-label=\"action\">");
            esc(out, &r.action);
            let _ = write!(
                out,
                "</td><td class=\"st-{status}\" data-label=\"status\">{status}</td><td class=\"num\" data-label=\"HTTP\">"
            );
            if let Some(h) = r.http_status {
                let _ = write!(out, "{h}");
            }
            out.push_str("</td><td data-label=\"error code\">");
            esc(out, &r.error_code);
            out.push_str("</td><td class=\"msg\" data-label=\"message\">");
            esc(out, &r.message);
            out.push_str("</td><td class=\"id\" data-label=\"request id\">");
            esc(out, &r.request_id);
            out.push_str("</td></tr>\n");
            if out.len() >= CHUNK {
                flush(out)?;
            }
        }
        out.push_str("</tbody></table></div>\n</section>\n");
        Ok(())
    }

    fn rows_open(&self, out: &mut String) {
        let n = self.records.len() as u64;
        let _ = write!(
            out,
            "<section id=\"rows\">\n<h2>All rows <span class=\"count\">({} {})</span></h2>\n",
            thousands(n),
            plural(n, "record", "records")
        );
        // Hidden until the script shows it: without script the whole table simply shows.
        out.push_str(
            "<form id=\"filter\" class=\"filter\" role=\"search\" hidden>\
             <label>Search <input id=\"q\" type=\"search\" placeholder=\"user, message, request id…\" autocomplete=\"off\"></label> \
             <label>Status <select id=\"st\"><option value=\"\">any</option>",
        );
        for status in Status::ALL {
            if self.summary.total(status) > 0 {
                let _ = write!(out, "<option>{}</option>", status.as_str());
            }
        }
        out.push_str(
            "</select></label> <output id=\"shown\" aria-live=\"polite\"></output></form>\n",
        );
        out.push_str("<div class=\"scroll\"><table id=\"all\" class=\"all\">\n<thead><tr>");
        for column in [
            "row",
            "user",
            "action",
            "status",
            "before",
            "after",
            "HTTP",
            "error code",
            "message",
            "attempts",
            "request id",
            "client request id",
            "finished at",
        ] {
            let _ = write!(out, "<th scope=\"col\">{column}</th>");
        }
        out.push_str("</tr></thead>\n<tbody>\n");
    }

    fn foot(&self, out: &mut String) {
        let _ = write!(
            out,
            "</main>\n<footer>mfa-rollout {} · {} {}</footer>\n<script>",
            env!("CARGO_PKG_VERSION"),
            thousands(self.records.len() as u64),
            plural(self.records.len() as u64, "record", "records"),
        );
        out.push_str(&SCRIPT.replace("LARGE", &LARGE.to_string()));
        out.push_str("</script>\n</body>\n</html>\n");
    }
}

/// One record in the all-rows table: one `<tr>`, no per-row styles, end tags of cells left
/// out (HTML allows it) to keep a page of a million records lean.
fn row(out: &mut String, r: &ResultRecord) {
    let status = r.status.as_str();
    let _ = write!(out, "<tr><td>{}<td>", r.row);
    esc(out, &r.user);
    out.push_str("<td>");
    esc(out, &r.action);
    let _ = write!(out, "<td class=\"st-{status}\">{status}<td>");
    esc(out, &r.before);
    out.push_str("<td>");
    esc(out, &r.after);
    out.push_str("<td>");
    if let Some(h) = r.http_status {
        let _ = write!(out, "{h}");
    }
    out.push_str("<td>");
    esc(out, &r.error_code);
    out.push_str("<td>");
    esc(out, &r.message);
    let _ = write!(out, "<td>{}<td>", r.attempts);
    esc(out, &r.request_id);
    out.push_str("<td>");
    esc(out, &r.client_request_id);
    out.push_str("<td>");
    esc(out, &r.finished_at);
    out.push_str("</tr>\n");
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::NotFound => "not found",
        other => other.as_str(),
    }
}

const STYLE: &str = r#"
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--line:#d1d9e0;--accent:#0969da;--ok:#1a7f37;--info:#0969da;--warn:#9a6700;--bad:#cf222e;--neutral:#59636e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#151b23;--line:#3d444d;--accent:#4493f8;--ok:#3fb950;--info:#4493f8;--warn:#d29922;--bad:#f85149;--neutral:#9198a1}}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0 auto;max-width:90rem;padding:1rem clamp(.5rem,3vw,2rem) 3rem;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 .25rem;overflow-wrap:anywhere}
h2{font-size:1.25rem;margin:2rem 0 .75rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1.5rem 0 .5rem}
a{color:var(--accent)}
code,.id{font-family:ui-monospace,SFMono-Regular,Consolas,"Liberation Mono",monospace;font-size:.85em}
.meta{color:var(--muted);margin:0}
.path{overflow-wrap:anywhere}
.toc{margin:.5rem 0 0;display:flex;gap:1rem;flex-wrap:wrap}
.kind{display:inline-block;padding:0 .5rem;border:1px solid currentColor;border-radius:1rem;font-weight:600}
.kind.plan{color:var(--info)}.kind.run{color:var(--ok)}
.lead{font-size:1.05rem}
.count{color:var(--muted);font-weight:400}
.empty{color:var(--muted)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.tiles{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}
.tile{flex:1 1 8rem;max-width:14rem;padding:.5rem .75rem;background:var(--panel);border:1px solid var(--line);border-left:4px solid currentColor;border-radius:6px}
.tile .n{display:block;font-size:1.5rem;font-weight:650;color:var(--fg);font-variant-numeric:tabular-nums}
.tile.zero{color:var(--muted)}.tile.zero .n{color:var(--muted)}
.stats{display:flex;flex-wrap:wrap;gap:.25rem 1.5rem;margin:1rem 0}
.stats div{display:flex;gap:.4rem;align-items:baseline}
.stats dt{color:var(--muted)}.stats dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}
.st-applied{color:var(--ok)}.st-unchanged{color:var(--neutral)}.st-planned{color:var(--info)}
.st-not_found,.st-skipped,.st-invalid{color:var(--warn)}.st-failed{color:var(--bad)}
td[class^="st-"]{font-weight:600}
.scroll{overflow:auto;max-height:75vh;border:1px solid var(--line);border-radius:6px}
.scroll.fit{width:fit-content;max-width:100%}
table{border-collapse:separate;border-spacing:0;width:100%;font-size:.875rem}
th,td{padding:.3rem .6rem;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
thead th{position:sticky;top:0;z-index:1;background:var(--panel);white-space:nowrap}
tbody tr:hover{background:var(--panel)}
tfoot th,tfoot td{font-weight:650;border-bottom:0}
.num{text-align:right;font-variant-numeric:tabular-nums}
.counts,.states{width:auto}
.counts th[scope=row],.states th[scope=row]{white-space:nowrap}
.chart{max-width:60rem}
.chart th[scope=row]{white-space:nowrap;font-weight:500}
.chart td.bar,.chart th.bar{width:60%}
.chart svg{display:block;width:100%;height:.9rem;margin-top:.2rem}
.chart rect{fill:var(--accent)}
.user,.id{white-space:nowrap}
.msg{min-width:16rem;overflow-wrap:break-word}
.all td:nth-child(1),.all td:nth-child(7),.all td:nth-child(10){text-align:right;font-variant-numeric:tabular-nums}
.all td:nth-child(2),.all td:nth-child(3),.all td:nth-child(4){white-space:nowrap}
.all td:nth-child(9){min-width:16rem;overflow-wrap:break-word}
.all td:nth-child(11),.all td:nth-child(12),.all td:nth-child(13){font-family:ui-monospace,SFMono-Regular,Consolas,monospace;font-size:.8rem;white-space:nowrap}
.problems .user,.problems .id{white-space:normal;overflow-wrap:anywhere}
.problems .user{min-width:12ch}.problems .id{min-width:14ch}
.problems .msg{min-width:12rem}
@media (max-width:40rem){
.problems thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.problems,.problems tbody,.problems tr{display:block;width:100%}
.problems tr{border-bottom:1px solid var(--line);padding:.35rem 0}
.problems td{display:grid;grid-template-columns:6.5rem minmax(0,1fr);gap:.5rem;border:0;padding:.1rem .6rem;text-align:left;min-width:0}
.problems td::before{content:attr(data-label);color:var(--muted);font-weight:400}
.problems td:empty{display:none}
}
.filter{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;margin:0 0 .75rem}
.filter input,.filter select{font:inherit;padding:.2rem .4rem;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:4px}
.filter input{width:min(24rem,70vw)}
#shown{color:var(--muted)}
footer{margin-top:2rem;color:var(--muted);font-size:.8rem}
@media print{
body{max-width:none;padding:0;font-size:9pt;background:#fff;color:#000}
.toc,.filter,footer{display:none!important}
.scroll{max-height:none;overflow:visible;border:0}
thead th{position:static}
thead{display:table-header-group}
tr{break-inside:avoid}
h2,h3{break-after:avoid}
.tile,.chart rect{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"#;

/// Filters the all-rows table by text and status. Constant: no record data is ever put here.
const SCRIPT: &str = r"
(function () {
  var form = document.getElementById('filter');
  var table = document.getElementById('all');
  if (!form || !table) return;
  var q = document.getElementById('q'), st = document.getElementById('st');
  var shown = document.getElementById('shown');
  var rows = table.tBodies[0].rows, n = rows.length, text = null, timer = 0;
  form.hidden = false;
  form.addEventListener('submit', function (e) { e.preventDefault(); apply(); });
  function cellsText(r) {
    var parts = [];
    for (var j = 0; j < r.cells.length; j++) parts.push(r.cells[j].textContent);
    return parts.join('\t').toLowerCase();
  }
  function apply() {
    var needle = q.value.trim().toLowerCase(), want = st.value, count = 0;
    if (needle && !text) {
      text = new Array(n);
      for (var i = 0; i < n; i++) text[i] = cellsText(rows[i]);
    }
    for (var i = 0; i < n; i++) {
      var r = rows[i];
      var ok = (!want || r.cells[3].textContent === want) &&
               (!needle || text[i].indexOf(needle) >= 0);
      if (r.hidden === ok) r.hidden = !ok;
      if (ok) count++;
    }
    shown.textContent = (needle || want)
      ? 'showing ' + count.toLocaleString('en-US') + ' of ' + n.toLocaleString('en-US')
      : '';
  }
  q.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(apply, n > LARGE ? 350 : 100);
  });
  st.addEventListener('change', apply);
})();
";

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::time::Duration;

    use super::*;
    use crate::report::RunStats;

    const HOSTILE: &str = "<script>alert(1)</script>";

    fn rec(row: u64, action: &str, status: Status, before: &str, after: &str) -> ResultRecord {
        ResultRecord {
            row,
            user: format!("u{row}@contoso.com"),
            action: action.into(),
            status,
            before: before.into(),
            after: after.into(),
            attempts: 1,
            request_id: format!("req-{row}"),
            finished_at: "2026-11-24T21:00:00Z".into(),
            ..ResultRecord::default()
        }
    }

    /// 40 disabled → enforced, 7 enabled → enforced, 5 unchanged, 3 failed, 2 not found
    /// (one of each with a hostile user and message), everyone's sessions revoked.
    fn known_run(planned: bool) -> Vec<ResultRecord> {
        let done = if planned {
            Status::Planned
        } else {
            Status::Applied
        };
        let mut out = Vec::new();
        let mut row = 1;
        let groups = [
            (40, done, "disabled", "enforced"),
            (7, done, "enabled", "enforced"),
            (5, Status::Unchanged, "enforced", "enforced"),
            (3, Status::Failed, "disabled", ""),
            (2, Status::NotFound, "", ""),
        ];
        for (n, status, before, after) in groups {
            for i in 0..n {
                row += 1;
                let mut r = rec(row, "enforce", status, before, after);
                if status == Status::Failed {
                    r.http_status = Some(403);
                    r.error_code = "Authorization_RequestDenied".into();
                    r.message = "Insufficient privileges & \"quotes\" to 'complete'".into();
                }
                if status == Status::NotFound {
                    r.http_status = Some(404);
                    r.error_code = "Request_ResourceNotFound".into();
                    r.message = format!("Resource '{}' does not exist", r.user);
                }
                if i == 0 && !status.is_good() {
                    r.user = HOSTILE.into();
                    r.message = format!("{HOSTILE} <img src=x onerror=alert(2)>");
                }
                out.push(r);
                out.push(rec(row, "revoke-sessions", done, "", ""));
            }
        }
        out
    }

    fn stats() -> RunStats {
        RunStats {
            elapsed: Duration::from_secs(552),
            reads: 8_218,
            writes: 16_420,
            throttled: 12,
            retries: 14,
            final_write_rate: None,
            final_read_rate: None,
        }
    }

    fn page(records: &[ResultRecord], planned: bool) -> String {
        let summary = Summary::from_records(
            records,
            (!planned).then(stats),
            Some(Path::new("out/results & <co>.csv")),
            planned,
        );
        render_html(records, &summary, "MFA rollout <contoso> & co")
    }

    /// The `name="value"` attributes of every start tag that has `attr`.
    fn tags_with(html: &str, attr: &str) -> Vec<BTreeMap<String, String>> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
            let tag = &rest[start + 1..end];
            rest = &rest[end..];
            if !tag.contains(&format!(" {attr}=\"")) {
                continue;
            }
            let mut attrs = BTreeMap::new();
            let mut t = tag;
            while let Some(eq) = t.find("=\"") {
                let name = t[..eq].rsplit(' ').next().unwrap_or_default().to_string();
                let value_end = t[eq + 2..].find('"').unwrap();
                attrs.insert(name, t[eq + 2..eq + 2 + value_end].to_string());
                t = &t[eq + 2 + value_end + 1..];
            }
            out.push(attrs);
        }
        out
    }

    fn section<'h>(html: &'h str, id: &str) -> &'h str {
        let open = format!("<section id=\"{id}\">");
        let start = html
            .find(&open)
            .unwrap_or_else(|| panic!("no section {id}"));
        let end = start + html[start..].find("</section>").unwrap();
        &html[start..end]
    }

    fn count_of(records: &[ResultRecord], action: Option<&str>, status: &str) -> u64 {
        records
            .iter()
            .filter(|r| action.is_none_or(|a| r.action == a) && r.status.as_str() == status)
            .count() as u64
    }

    #[test]
    fn counts_read_back_from_the_page_match_the_records() {
        for planned in [false, true] {
            let records = known_run(planned);
            let html = page(&records, planned);
            let summary = section(&html, "summary");
            let mut per_action = 0;
            let mut totals = BTreeMap::new();
            for attrs in tags_with(summary, "data-count") {
                let Some(status) = attrs.get("data-status") else {
                    continue;
                };
                let n: u64 = attrs["data-count"].parse().unwrap();
                if let Some(action) = attrs.get("data-action") {
                    assert_eq!(
                        n,
                        count_of(&records, Some(action), status),
                        "{action} {status}"
                    );
                    per_action += 1;
                } else {
                    assert_eq!(n, count_of(&records, None, status), "total {status}");
                    totals.insert(status.clone(), n);
                }
            }
            // Two actions × the four statuses that occur.
            assert_eq!(per_action, 8);
            for status in Status::ALL {
                let want = count_of(&records, None, status.as_str());
                if want > 0 {
                    assert_eq!(totals.get(status.as_str()), Some(&want), "{status}");
                }
            }
            assert_eq!(totals["failed"], 3);
            assert_eq!(totals["not_found"], 2);
        }
    }

    #[test]
    fn transitions_appear_as_text_and_as_bars_without_script() {
        let html = page(&known_run(false), false);
        let summary = section(&html, "summary");
        let transitions: Vec<(String, String, String)> = tags_with(summary, "data-from")
            .into_iter()
            .map(|a| {
                (
                    a["data-from"].clone(),
                    a["data-to"].clone(),
                    a["data-count"].clone(),
                )
            })
            .collect();
        assert_eq!(
            transitions,
            [
                ("disabled".into(), "enforced".into(), "40".into()),
                ("enabled".into(), "enforced".into(), "7".into()),
            ]
        );
        assert!(summary.contains("disabled → enforced</th><td class=\"num\">40</td>"));
        assert!(
            summary.contains("<rect width=\"1000\""),
            "largest bar is full width"
        );
        assert!(summary.contains("<rect width=\"175\""), "7/40 of the width");
    }

    #[test]
    fn run_figures_show_elapsed_rates_and_throttling() {
        let html = page(&known_run(false), false);
        let summary = section(&html, "summary");
        let stats: BTreeMap<String, String> = tags_with(summary, "data-stat")
            .into_iter()
            .map(|a| (a["data-stat"].clone(), a["data-value"].clone()))
            .collect();
        assert_eq!(stats["elapsed_seconds"], "552.00");
        assert_eq!(stats["writes_per_second"], "29.75");
        assert_eq!(stats["reads_per_second"], "14.89");
        assert_eq!(stats["throttled"], "12");
        for text in ["9m 12s", "29.7", "14.9", "throttled (429)", ">12<"] {
            assert!(summary.contains(text), "missing {text}");
        }
        assert!(html.contains("data-kind=\"run\""));
        let plan = page(&known_run(true), true);
        assert!(plan.contains("data-kind=\"plan\"") && plan.contains("nothing was changed"));
        assert!(
            !section(&plan, "summary").contains("data-stat=\""),
            "a plan has no run figures"
        );
    }

    #[test]
    fn every_failed_and_not_found_row_is_in_the_problems_section() {
        let mut records = known_run(false);
        // More problems than any screenful: none may be left out.
        for row in 1_000..1_300 {
            records.push(rec(row, "enforce", Status::Failed, "disabled", ""));
        }
        let html = page(&records, false);
        let problems = section(&html, "problems");
        let listed: Vec<u64> = tags_with(problems, "data-row")
            .iter()
            .map(|a| a["data-row"].parse().unwrap())
            .collect();
        let wanted: Vec<u64> = records
            .iter()
            .filter(|r| matches!(r.status, Status::Failed | Status::NotFound))
            .map(|r| r.row)
            .collect();
        assert_eq!(listed, wanted);
        assert!(problems.contains("Authorization_RequestDenied"));
        assert!(problems.contains("Request_ResourceNotFound"));
        assert!(problems.contains(">403<") && problems.contains("req-"));
    }

    #[test]
    fn a_clean_run_says_there_are_no_problems() {
        let records = [rec(2, "enforce", Status::Applied, "disabled", "enforced")];
        let summary = Summary::from_records(&records, None, None, false);
        let html = render_html(&records, &summary, "t");
        assert!(section(&html, "problems").contains("No failed, not-found or invalid rows."));
        assert!(tags_with(&html, "data-row").is_empty());
    }

    #[test]
    fn the_page_fetches_nothing() {
        for planned in [false, true] {
            let mut records = known_run(planned);
            records[0].message = "see https://learn.microsoft.com/graph".into();
            let html = page(&records, planned).to_lowercase();
            for bad in [
                "src=\"http",
                "href=\"http",
                "src=\"//",
                "href=\"//",
                "url(",
                "@import",
                "<link",
                "<iframe",
                "<object",
                "<embed",
                "<img",
            ] {
                assert!(!html.contains(bad), "found {bad}");
            }
            assert_eq!(html.matches("<script").count(), 1, "one inline script");
            assert!(html.contains("<script>"), "the script has no src");
            let loads = tags_with(&html, "src");
            assert!(loads.is_empty(), "tags load something: {loads:?}");
            for attrs in tags_with(&html, "href") {
                assert!(
                    attrs["href"].starts_with('#'),
                    "a link leaves the page: {attrs:?}"
                );
            }
        }
    }

    #[test]
    fn hostile_users_and_messages_are_escaped() {
        let html = page(&known_run(false), false);
        assert!(!html.contains(HOSTILE), "raw hostile text");
        assert!(!html.contains("<img"), "raw hostile tag");
        assert!(!html.contains("alert(1)</"), "raw hostile closing tag");
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
        assert!(section(&html, "problems").contains(escaped));
        assert!(section(&html, "rows").contains(escaped));
        assert!(html.contains("&quot;quotes&quot; to &#39;complete&#39;"));
        assert!(html.contains("<title>MFA rollout &lt;contoso&gt; &amp; co</title>"));
        assert!(html.contains("out/results &amp; &lt;co&gt;.csv"));
        // The only script element is the page's own, closed once.
        assert_eq!(html.matches("</script>").count(), 1);
    }

    #[test]
    fn escaping_covers_the_five_characters_and_keeps_the_rest() {
        let mut out = String::new();
        esc(&mut out, "a&b<c>d\"e'f → ü");
        assert_eq!(out, "a&amp;b&lt;c&gt;d&quot;e&#39;f → ü");
    }

    #[test]
    fn the_summary_needs_no_script() {
        let html = page(&known_run(false), false);
        let script = html.find("<script").unwrap();
        let summary_start = html.find("<section id=\"summary\">").unwrap();
        let summary = section(&html, "summary");
        assert!(
            summary_start + summary.len() < script,
            "summary before the script"
        );
        assert!(
            section(&html, "problems").len() + html.find("<section id=\"problems\">").unwrap()
                < script
        );
        for text in [">8,218<", ">40<", ">3<", ">2<", "disabled → enforced"] {
            assert!(summary.contains(text), "missing {text}");
        }
        assert!(
            !summary.contains(" hidden"),
            "nothing in the summary waits for script"
        );
        assert!(!summary.contains("<noscript"));
        // Filter controls are hidden until the script shows them.
        assert!(html.contains("<form id=\"filter\" class=\"filter\" role=\"search\" hidden>"));
    }

    #[test]
    fn a_large_run_has_one_lean_row_per_record() {
        let records: Vec<ResultRecord> = (2..25_002)
            .map(|row| rec(row, "enforce", Status::Planned, "disabled", "enforced"))
            .collect();
        let summary = Summary::from_records(&records, None, None, true);
        let html = render_html(&records, &summary, "big");
        let rows = section(&html, "rows");
        assert_eq!(
            rows.matches("<tr>").count(),
            records.len() + 1,
            "+ the header row"
        );
        assert!(!html.contains("style=\""), "no inline styles");
        assert!(rows.contains("<tr><td>25001<td>u25001@contoso.com<td>enforce<td class=\"st-planned\">planned<td>disabled<td>enforced<td><td><td><td>1<td>req-25001<td><td>2026-11-24T21:00:00Z</tr>"));
        assert!(html.len() < records.len() * 200, "{} bytes", html.len());
    }

    #[test]
    fn write_html_writes_the_page_atomically_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        fs::write(&path, "old").unwrap();
        let mut records = known_run(false);
        // Enough to stream the page in several pieces.
        for row in 100..3_000 {
            records.push(rec(row, "revoke-sessions", Status::Applied, "", ""));
        }
        let summary = Summary::from_records(&records, Some(stats()), None, false);
        write_html(&path, &records, &summary, "run").unwrap();
        let written = fs::read_to_string(&path).unwrap();
        assert!(written.len() > CHUNK * 2);
        let fresh = render_html(&records, &summary, "run");
        let untimed = |s: &str| {
            let (before, rest) = s.split_once("<time").unwrap();
            let (_, after) = rest.split_once("</time>").unwrap();
            format!("{before}{after}")
        };
        assert_eq!(
            untimed(&written),
            untimed(&fresh),
            "same page as render_html"
        );
        assert!(written.ends_with("</html>\n"));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.html")]);
    }

    #[test]
    fn write_html_into_a_missing_directory_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("report.html");
        let summary = Summary::from_records(&[], None, None, true);
        assert!(write_html(&path, &[], &summary, "t").is_err());
        assert!(!dir.path().join("nope").exists());
    }

    #[test]
    fn a_many_tenant_run_lists_each_tenant_with_its_stop_reason_escaped() {
        let records = known_run(false);
        let lines = vec![
            crate::report::TenantLine {
                tenant: "contoso.com".into(),
                rows: 3,
                ..crate::report::TenantLine::default()
            },
            crate::report::TenantLine {
                tenant: "fabrikam.com".into(),
                stop: Some("not signed in: <AADSTS7000229> & more".into()),
                ..crate::report::TenantLine::default()
            },
        ];
        let summary =
            Summary::from_records(&records, Some(stats()), None, false).with_tenants(lines);
        let html = render_html(&records, &summary, "t");
        let table = section(&html, "summary");
        assert!(table.contains("<h3>Per tenant</h3>"), "{table}");
        assert!(table.contains("<th scope=\"row\">contoso.com</th><td class=\"num\">3</td>"));
        assert!(
            table.contains("stopped: not signed in: &lt;AADSTS7000229&gt; &amp; more"),
            "{table}"
        );
        let plain = page(&records, false);
        assert!(
            !plain.contains("Per tenant"),
            "a one-tenant run has no tenant table"
        );
    }
}
