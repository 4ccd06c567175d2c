//! Emitting a finished summary, the one way `apply`, `plan` and `report` do it: the HTML
//! report first when one is asked for, then the summary on stdout (JSON with `--json`, its
//! text otherwise, and with `-q` only its first line, the outcome, so a quiet run still says
//! how it ended).

use std::path::Path;

use super::html::write_html;
use super::summary::Summary;
use crate::config::Output;
use crate::error::Error;
use crate::journal::ResultRecord;

/// An HTML report to write: where, and the page's title.
pub(crate) struct HtmlReport<'a> {
    pub(crate) path: &'a Path,
    pub(crate) title: String,
}

/// Writes `html` (listing `records`) when given, then prints `summary`.
pub(crate) fn emit(
    summary: &Summary,
    records: &[ResultRecord],
    html: Option<HtmlReport<'_>>,
    output: Output,
) -> Result<(), Error> {
    if let Some(html) = html {
        write_html(html.path, records, summary, &html.title).map_err(|e| Error::File {
            path: html.path.to_path_buf(),
            message: format!("cannot write the HTML report: {e}"),
        })?;
    }
    print_summary(summary, output);
    Ok(())
}

fn print_summary(summary: &Summary, output: Output) {
    if output.json {
        println!("{}", summary.to_json());
        return;
    }
    let text = summary.render_text();
    let utf8 = crate::locale_text::utf8_locale();
    if output.quiet {
        if let Some(first) = text.lines().next() {
            println!("{}", crate::locale_text::for_locale(first, utf8));
        }
    } else {
        print!("{}", crate::locale_text::for_locale(&text, utf8));
    }
}
