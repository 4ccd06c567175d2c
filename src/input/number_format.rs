//! Number formats of a workbook's cells, applied as Excel displays them, so that an Employee
//! ID Excel shows as `00042` reads `00042` (as the sheet's CSV export says), not `42`.
//! calamine gives a cell's raw value only; the format is the cell's style (`s`, an index into
//! `cellXfs` in `xl/styles.xml`) and that style's `numFmtId`, built in or defined in
//! `numFmts` (ECMA-376 Part 1, §18.8.30 numFmt, §18.8.31 numFmts, §18.3.1.4 c, and the list
//! of built-in ids in §18.8.30).
//!
//! # What is applied
//! - Zero-padding and fixed decimals (`00000`, `0.00`, `#,##0.0`), thousands separators,
//!   percent, literal text around the number (`"ID-"0000`, `\#0`), a second section for
//!   negative numbers and a third for zero.
//! - Dates and times written out in the format (`dd/mm/yyyy`, `d-mmm-yy`, `h:mm AM/PM`),
//!   with English month and day names.
//!
//! # What is not (the value reads as before: whole numbers without `.0`, dates as ISO)
//! - The locale's short date and date-time (built-in ids 14 and 22), which depend on the
//!   machine that displays the file.
//! - Scientific notation, fractions (`# ?/?`), scaling by a trailing `,`, elapsed times
//!   (`[h]:mm`), conditions and colours in brackets, `@` text sections, fill (`*`) widths.

use std::collections::HashMap;
use std::io::{BufReader, Cursor};

use quick_xml::Reader;
use quick_xml::events::Event;
use time::{Date, Duration, Month};
use zip::ZipArchive;

use super::hidden_rows::{attribute, entry_named, relationships, sheet_path};

/// How numeric cells of one sheet are displayed: by (0-based row, column), the cells whose
/// style has a number format this module applies.
#[derive(Debug, Default)]
pub(crate) struct CellFormats {
    formats: Vec<Display>,
    cells: HashMap<(u32, u32), usize>,
}

impl CellFormats {
    /// The cell's value as its format displays it, or `None` when it has none applied.
    pub(crate) fn show(&self, row: u32, col: u32, value: f64, is_1904: bool) -> Option<String> {
        let format = self.formats.get(*self.cells.get(&(row, col))?)?;
        format.show(value, is_1904)
    }
}

/// Reads the formats of the numeric cells of the sheet `sheet`. A workbook whose styles
/// cannot be read gets no formats (its numbers read as before), not an error: the cells
/// themselves were read by calamine.
pub(crate) fn cell_formats(bytes: &[u8], sheet: &str) -> CellFormats {
    read(bytes, sheet).unwrap_or_default()
}

fn read(bytes: &[u8], sheet: &str) -> Result<CellFormats, String> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut codes: HashMap<u32, String> = HashMap::new();
    let mut xfs: Vec<u32> = Vec::new();
    let mut in_cell_xfs = false;
    // `numFmt` elements anywhere; `xf` only inside `cellXfs` (not `cellStyleXfs`).
    let index = entry_named(&zip, "xl/styles.xml").ok_or("no styles")?;
    {
        let file = zip.by_index(index).map_err(|e| e.to_string())?;
        let mut reader = Reader::from_reader(BufReader::new(file));
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader
                .read_event_into(&mut buf)
                .map_err(|e| e.to_string())?
            {
                Event::Start(e) | Event::Empty(e) => {
                    let d = reader.decoder();
                    match e.local_name().as_ref() {
                        b"cellXfs" => in_cell_xfs = true,
                        b"numFmt" => {
                            if let (Some(id), Some(code)) = (
                                attribute(&e, d, b"numFmtId")?,
                                attribute(&e, d, b"formatCode")?,
                            ) && let Ok(id) = id.parse()
                            {
                                codes.insert(id, code);
                            }
                        }
                        b"xf" if in_cell_xfs => {
                            let id = attribute(&e, d, b"numFmtId")?
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0);
                            xfs.push(id);
                        }
                        _ => {}
                    }
                }
                Event::End(e) if e.local_name().as_ref() == b"cellXfs" => in_cell_xfs = false,
                Event::Eof => break,
                _ => {}
            }
        }
    }
    let mut formats = Vec::new();
    let mut by_xf: HashMap<usize, usize> = HashMap::new();
    for (xf, id) in xfs.iter().enumerate() {
        let code = codes.get(id).map(String::as_str).or_else(|| builtin(*id));
        if let Some(display) = code.and_then(Display::parse) {
            by_xf.insert(xf, formats.len());
            formats.push(display);
        }
    }
    if formats.is_empty() {
        // Nothing to apply: the sheet need not be read again.
        return Ok(CellFormats::default());
    }
    let rels = relationships(&mut zip)?;
    let path = sheet_path(&mut zip, sheet, &rels)?;
    let index = entry_named(&zip, &path).ok_or("no sheet part")?;
    let file = zip.by_index(index).map_err(|e| e.to_string())?;
    let mut reader = Reader::from_reader(BufReader::new(file));
    let mut buf = Vec::new();
    let mut cells = HashMap::new();
    // The 0-based row and the next column, for rows and cells without `r` (§18.3.1.73,
    // §18.3.1.4: both optional, then one after the previous).
    let mut row: Option<u32> = None;
    let mut col = 0u32;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| e.to_string())?
        {
            Event::Start(e) | Event::Empty(e) => {
                let d = reader.decoder();
                match e.local_name().as_ref() {
                    b"row" => {
                        let numbered = attribute(&e, d, b"r")?
                            .and_then(|r| r.parse::<u32>().ok())
                            .and_then(|r| r.checked_sub(1));
                        row = Some(numbered.unwrap_or_else(|| row.map_or(0, |r| r + 1)));
                        col = 0;
                    }
                    b"c" => {
                        let (r, c) = attribute(&e, d, b"r")?
                            .and_then(|a| cell_ref(&a))
                            .unwrap_or((row.unwrap_or(0), col));
                        col = c + 1;
                        let numeric = attribute(&e, d, b"t")?.is_none_or(|t| t == "n");
                        let style = attribute(&e, d, b"s")?.and_then(|s| s.parse::<usize>().ok());
                        if let (true, Some(format)) = (numeric, style.and_then(|s| by_xf.get(&s))) {
                            cells.insert((r, c), *format);
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"sheetData" => break,
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(CellFormats { formats, cells })
}

/// `C12` → (11, 2), 0-based.
fn cell_ref(r: &str) -> Option<(u32, u32)> {
    let split = r.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = r.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    let col = letters.bytes().fold(0u32, |n, b| {
        n * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1
    });
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col - 1))
}

/// The built-in formats Excel does not write into `numFmts` (§18.8.30), those applied here.
/// 14 and 22 (the locale's short date, date-time) are left out on purpose: see the module doc.
fn builtin(id: u32) -> Option<&'static str> {
    Some(match id {
        1 => "0",
        2 => "0.00",
        3 => "#,##0",
        4 => "#,##0.00",
        9 => "0%",
        10 => "0.00%",
        15 => "d-mmm-yy",
        16 => "d-mmm",
        17 => "mmm-yy",
        18 => "h:mm AM/PM",
        19 => "h:mm:ss AM/PM",
        20 => "h:mm",
        21 => "h:mm:ss",
        37 => "#,##0 ;(#,##0)",
        38 => "#,##0 ;(#,##0)",
        39 => "#,##0.00;(#,##0.00)",
        40 => "#,##0.00;(#,##0.00)",
        45 => "mm:ss",
        46 => return None,
        47 => "mm:ss.0",
        _ => return None,
    })
}

/// One piece of a format section.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Text(String),
    /// `0` (shown even when zero), `#` (only significant), `?` (a space when not).
    Digit(char),
    Point,
    Comma,
    Percent,
    Date(DatePart),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DatePart {
    Year2,
    Year4,
    Month,
    Month2,
    MonthShort,
    MonthLong,
    Day,
    Day2,
    DayShort,
    DayLong,
    Hour,
    Hour2,
    Minute,
    Minute2,
    Second,
    Second2,
    AmPm,
}

/// A parsed format: number sections (positive, negative, zero) or one date section.
#[derive(Clone, Debug, PartialEq)]
enum Display {
    Number(Vec<NumberSection>),
    Date(Vec<Token>),
}

#[derive(Clone, Debug, PartialEq)]
struct NumberSection {
    prefix: String,
    suffix: String,
    min_int: usize,
    grouping: bool,
    min_decimals: usize,
    max_decimals: usize,
    percent: bool,
    /// A section of text only (`"none"` for zero): the number is not shown.
    text_only: bool,
}

impl Display {
    /// The format `code`, or `None` when it is one this module leaves alone (General, text,
    /// and what the module doc lists).
    fn parse(code: &str) -> Option<Display> {
        if code.trim().eq_ignore_ascii_case("general") || code.trim().is_empty() {
            return None;
        }
        let sections: Vec<Vec<Token>> = split_sections(code)
            .iter()
            .map(|s| tokens(s))
            .collect::<Option<_>>()?;
        let first = sections.first()?;
        if first.iter().any(|t| matches!(t, Token::Date(_))) {
            return (sections.len() == 1).then(|| Display::Date(first.clone()));
        }
        let numbers: Vec<NumberSection> = sections
            .iter()
            .take(3)
            .map(|s| number_section(s))
            .collect::<Option<_>>()?;
        Some(Display::Number(numbers))
    }

    fn show(&self, value: f64, is_1904: bool) -> Option<String> {
        if !value.is_finite() {
            return None;
        }
        match self {
            Display::Number(sections) => {
                let (section, sign) = match sections.as_slice() {
                    [_, neg, ..] if value < 0.0 => (neg, ""),
                    [_, _, zero, ..] if value == 0.0 => (zero, ""),
                    [first, ..] => (first, if value < 0.0 { "-" } else { "" }),
                    [] => return None,
                };
                let text = section.show(value.abs());
                // "-0" is never shown: a negative that rounds to zero shows as zero.
                let sign = if text.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
                    sign
                } else {
                    ""
                };
                Some(format!("{sign}{text}"))
            }
            Display::Date(parts) => show_date(parts, value, is_1904),
        }
    }
}

impl NumberSection {
    fn show(&self, value: f64) -> String {
        if self.text_only {
            return self.prefix.clone();
        }
        let value = if self.percent { value * 100.0 } else { value };
        let scale = 10f64.powi(i32::try_from(self.max_decimals).unwrap_or(0));
        // Excel rounds half away from zero, as f64::round does.
        let rounded = (value * scale).round() / scale;
        let fixed = format!("{rounded:.*}", self.max_decimals);
        let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
        let mut frac = frac.to_string();
        while frac.len() > self.min_decimals && frac.ends_with('0') {
            frac.pop();
        }
        let int = int.trim_start_matches('0');
        let mut digits = format!("{int:0>width$}", width = self.min_int);
        if self.grouping {
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            digits = grouped;
        }
        let point = if frac.is_empty() { "" } else { "." };
        format!("{}{digits}{point}{frac}{}", self.prefix, self.suffix)
    }
}

/// The sections of a code, split at `;` outside quotes and escapes.
fn split_sections(code: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        let current = out.last_mut();
        match c {
            '"' => {
                quoted = !quoted;
                current.into_iter().for_each(|s| s.push(c));
            }
            '\\' => {
                if let (Some(s), Some(next)) = (current, chars.next()) {
                    s.push(c);
                    s.push(next);
                }
            }
            ';' if !quoted => out.push(String::new()),
            _ => current.into_iter().for_each(|s| s.push(c)),
        }
    }
    out
}

/// A section's tokens, or `None` when it holds something not applied.
fn tokens(section: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = section.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let text = |out: &mut Vec<Token>, s: &str| match out.last_mut() {
        Some(Token::Text(t)) => t.push_str(s),
        _ => out.push(Token::Text(s.to_string())),
    };
    while let Some(&c) = chars.get(i) {
        let rest: String = chars.get(i..).unwrap_or_default().iter().collect();
        let lower = rest.to_ascii_lowercase();
        let run = chars
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|x| x.eq_ignore_ascii_case(&c))
            .count();
        i += 1;
        match c {
            '"' => {
                let end = chars.get(i..)?.iter().position(|x| *x == '"')?;
                let s: String = chars.get(i..i + end)?.iter().collect();
                text(&mut out, &s);
                i += end + 1;
            }
            '\\' => {
                text(&mut out, &chars.get(i)?.to_string());
                i += 1;
            }
            // `_x` leaves the width of x blank, `*x` fills: a space, and nothing.
            '_' => {
                text(&mut out, " ");
                i += 1;
            }
            '*' => i += 1,
            '[' => {
                // Colours, conditions, locales and elapsed times are not applied.
                return None;
            }
            '0' | '#' | '?' => out.push(Token::Digit(c)),
            '.' => out.push(Token::Point),
            ',' => out.push(Token::Comma),
            '%' => out.push(Token::Percent),
            'E' | 'e' | '@' | '/'
                if c != '/' || out.iter().any(|t| matches!(t, Token::Digit(_))) =>
            {
                return None;
            }
            _ if lower.starts_with("am/pm") => {
                out.push(Token::Date(DatePart::AmPm));
                i += 4;
            }
            _ if lower.starts_with("a/p") => return None,
            'y' | 'Y' => {
                out.push(Token::Date(if run >= 3 {
                    DatePart::Year4
                } else {
                    DatePart::Year2
                }));
                i += run - 1;
            }
            'm' | 'M' => {
                out.push(Token::Date(match run {
                    1 => DatePart::Month,
                    2 => DatePart::Month2,
                    3 => DatePart::MonthShort,
                    _ => DatePart::MonthLong,
                }));
                i += run - 1;
            }
            'd' | 'D' => {
                out.push(Token::Date(match run {
                    1 => DatePart::Day,
                    2 => DatePart::Day2,
                    3 => DatePart::DayShort,
                    _ => DatePart::DayLong,
                }));
                i += run - 1;
            }
            'h' | 'H' => {
                out.push(Token::Date(if run >= 2 {
                    DatePart::Hour2
                } else {
                    DatePart::Hour
                }));
                i += run - 1;
            }
            's' | 'S' => {
                out.push(Token::Date(if run >= 2 {
                    DatePart::Second2
                } else {
                    DatePart::Second
                }));
                i += run - 1;
            }
            'g' | 'G' if lower.starts_with("general") => return None,
            _ => text(&mut out, &c.to_string()),
        }
    }
    minutes(&mut out);
    Some(out)
}

/// `m` after an hour or before a second is minutes, not month (as Excel reads it).
fn minutes(tokens: &mut [Token]) {
    let dates: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t, Token::Date(_)))
        .map(|(i, _)| i)
        .collect();
    for (k, &i) in dates.iter().enumerate() {
        let part = |j: Option<&usize>| match j.and_then(|j| tokens.get(*j)) {
            Some(Token::Date(p)) => Some(*p),
            _ => None,
        };
        let before = part(k.checked_sub(1).and_then(|k| dates.get(k)));
        let after = part(dates.get(k + 1));
        let near_time = matches!(before, Some(DatePart::Hour | DatePart::Hour2))
            || matches!(after, Some(DatePart::Second | DatePart::Second2));
        if let Some(Token::Date(p)) = tokens.get_mut(i)
            && near_time
        {
            *p = match *p {
                DatePart::Month => DatePart::Minute,
                DatePart::Month2 => DatePart::Minute2,
                other => other,
            };
        }
    }
}

fn number_section(tokens: &[Token]) -> Option<NumberSection> {
    let literal = |ts: &[Token]| {
        ts.iter()
            .map(|t| match t {
                Token::Text(s) => s.as_str(),
                Token::Percent => "%",
                _ => "",
            })
            .collect::<String>()
    };
    let Some(first) = tokens.iter().position(|t| matches!(t, Token::Digit(_))) else {
        let all_text = tokens.iter().all(|t| matches!(t, Token::Text(_)));
        return all_text.then(|| NumberSection {
            prefix: literal(tokens),
            suffix: String::new(),
            min_int: 0,
            grouping: false,
            min_decimals: 0,
            max_decimals: 0,
            percent: false,
            text_only: true,
        });
    };
    let last = tokens.iter().rposition(|t| matches!(t, Token::Digit(_)))?;
    let mut section = NumberSection {
        prefix: literal(tokens.get(..first)?),
        suffix: literal(tokens.get(last + 1..)?),
        min_int: 0,
        grouping: false,
        min_decimals: 0,
        max_decimals: 0,
        percent: tokens.contains(&Token::Percent),
        text_only: false,
    };
    // A trailing `,` after the digits scales by 1000: not applied.
    if tokens.get(last + 1) == Some(&Token::Comma) {
        return None;
    }
    let mut after_point = false;
    for t in tokens.get(first..=last)? {
        match t {
            Token::Digit(d) if after_point => {
                section.max_decimals += 1;
                if *d == '0' {
                    section.min_decimals = section.max_decimals;
                }
            }
            Token::Digit(d) => section.min_int += usize::from(*d == '0'),
            Token::Point if !after_point => after_point = true,
            Token::Comma if !after_point => section.grouping = true,
            // Text between the digits (`000-00`) is not applied.
            _ => return None,
        }
    }
    Some(section)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn show_date(parts: &[Token], serial: f64, is_1904: bool) -> Option<String> {
    // Before 1900-03-01 Excel's calendar has a day that never was (serial 60): not shown.
    if serial < if is_1904 { 0.0 } else { 61.0 } || serial >= 2_958_466.0 {
        return None;
    }
    let day = serial.floor();
    #[allow(clippy::cast_possible_truncation)]
    let millis = ((serial - day) * 86_400_000.0).round() as i64;
    let mut seconds = (millis + 500) / 1000;
    #[allow(clippy::cast_possible_truncation)]
    let mut day = day as i64;
    if seconds >= 86_400 {
        day += 1;
        seconds = 0;
    }
    let epoch = if is_1904 {
        Date::from_calendar_date(1904, Month::January, 1).ok()?
    } else {
        Date::from_calendar_date(1899, Month::December, 30).ok()?
    };
    let date = epoch.checked_add(Duration::days(day))?;
    let twelve = parts.contains(&Token::Date(DatePart::AmPm));
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let hour = if twelve {
        match h % 12 {
            0 => 12,
            x => x,
        }
    } else {
        h
    };
    let month = usize::from(u8::from(date.month())) - 1;
    let weekday = usize::from(date.weekday().number_days_from_monday());
    let mut out = String::new();
    for t in parts {
        match t {
            Token::Text(s) => out.push_str(s),
            Token::Date(p) => out.push_str(&match p {
                DatePart::Year2 => format!("{:02}", date.year() % 100),
                DatePart::Year4 => format!("{:04}", date.year()),
                DatePart::Month => (month + 1).to_string(),
                DatePart::Month2 => format!("{:02}", month + 1),
                DatePart::MonthShort => MONTHS.get(month)?.get(..3)?.to_string(),
                DatePart::MonthLong => (*MONTHS.get(month)?).to_string(),
                DatePart::Day => date.day().to_string(),
                DatePart::Day2 => format!("{:02}", date.day()),
                DatePart::DayShort => DAYS.get(weekday)?.get(..3)?.to_string(),
                DatePart::DayLong => (*DAYS.get(weekday)?).to_string(),
                DatePart::Hour => hour.to_string(),
                DatePart::Hour2 => format!("{hour:02}"),
                DatePart::Minute => m.to_string(),
                DatePart::Minute2 => format!("{m:02}"),
                DatePart::Second => s.to_string(),
                DatePart::Second2 => format!("{s:02}"),
                DatePart::AmPm => if h < 12 { "AM" } else { "PM" }.to_string(),
            }),
            // Digits and points in a date format (`ss.00`) are not applied.
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(code: &str, value: f64) -> Option<String> {
        Display::parse(code)?.show(value, false)
    }

    #[test]
    fn zero_padding_fixed_decimals_grouping_and_percent_are_applied() {
        assert_eq!(show("00000", 42.0).as_deref(), Some("00042"));
        assert_eq!(show("00000", 123_456.0).as_deref(), Some("123456"));
        assert_eq!(show("0.00", 1234.5).as_deref(), Some("1234.50"));
        assert_eq!(show("0.00", -3.0).as_deref(), Some("-3.00"));
        assert_eq!(show("0.00", 0.005).as_deref(), Some("0.01"));
        assert_eq!(show("#,##0", 1_234_567.0).as_deref(), Some("1,234,567"));
        assert_eq!(show("#,##0.0#", 1234.5).as_deref(), Some("1,234.5"));
        assert_eq!(show("0%", 0.125).as_deref(), Some("13%"));
        assert_eq!(show("0.00%", 1.0).as_deref(), Some("100.00%"));
        assert_eq!(show("#", 0.0).as_deref(), Some(""));
        assert_eq!(show("\"ID-\"0000", 7.0).as_deref(), Some("ID-0007"));
        assert_eq!(show("\\#0", 7.0).as_deref(), Some("#7"));
        assert_eq!(show("0.00;(0.00)", -2.5).as_deref(), Some("(2.50)"));
        assert_eq!(show("0;-0;\"none\"", 0.0).as_deref(), Some("none"));
        assert_eq!(show("0", -0.2).as_deref(), Some("0"));
        assert_eq!(show("#,##0_);(#,##0)", 5.0).as_deref(), Some("5 "));
    }

    #[test]
    fn dates_and_times_are_written_in_their_format() {
        assert_eq!(show("dd/mm/yyyy", 45_306.0).as_deref(), Some("15/01/2024"));
        assert_eq!(
            show("yyyy\\-mm\\-dd", 45_356.0).as_deref(),
            Some("2024-03-05")
        );
        assert_eq!(show("d-mmm-yy", 45_306.0).as_deref(), Some("15-Jan-24"));
        assert_eq!(
            show("dddd d mmmm", 45_306.0).as_deref(),
            Some("Monday 15 January")
        );
        assert_eq!(
            show("h:mm AM/PM", 0.75).as_deref(),
            None,
            "before 1900-03-01"
        );
        assert_eq!(show("h:mm AM/PM", 45_306.75).as_deref(), Some("6:00 PM"));
        assert_eq!(show("hh:mm:ss", 45_306.5).as_deref(), Some("12:00:00"));
        assert_eq!(
            show("mm/dd hh:mm", 45_306.5).as_deref(),
            Some("01/15 12:00")
        );
    }

    #[test]
    fn formats_not_applied_are_left_alone() {
        for code in [
            "General", "@", "0.00E+00", "# ?/?", "[h]:mm", "[Red]0", "#,##0,", "000-00", "",
        ] {
            assert_eq!(Display::parse(code), None, "{code}");
        }
        assert_eq!(builtin(14), None);
        assert_eq!(builtin(22), None);
        assert_eq!(show("0", f64::NAN), None);
    }

    #[test]
    fn cell_references_are_read() {
        assert_eq!(cell_ref("A1"), Some((0, 0)));
        assert_eq!(cell_ref("C12"), Some((11, 2)));
        assert_eq!(cell_ref("AA3"), Some((2, 26)));
        assert_eq!(cell_ref("1A"), None);
        assert_eq!(cell_ref("A0"), None);
    }
}
