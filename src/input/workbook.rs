//! Excel workbooks (`.xlsx`), read with calamine: which sheet, and each cell as the text Excel
//! shows for it, so that a workbook gives the same jobs as the same sheet saved as CSV.
//!
//! # Cells as text
//! - A number or date whose cell has a number format is shown in that format (`00042`,
//!   `15/01/2024`), as `number_format` applies it; otherwise:
//! - Text as is; a whole number stored as a float (`1234.0`, as Excel stores every number)
//!   as `1234`, other numbers in their shortest exact form (`0.1`, `1234.5`).
//! - Dates as ISO `YYYY-MM-DD` (with ` HH:MM:SS` when there is a time of day; a time alone
//!   as `HH:MM:SS`); booleans as `TRUE` / `FALSE`.
//! - Formulas by the result Excel cached when it last saved the file (calamine reads those);
//!   a result Excel shows as an error (`#N/A`, `#REF!`) is kept apart as [`Value::Error`], so
//!   the row can be refused with it.
//! - Merged cells: the value is in the top-left cell only; the others are empty.
//!
//! Cells are streamed from the sheet and only non-empty ones kept (sorted by row, then
//! column), so a stray formatted cell at XFD1048576 costs nothing.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{DataRef, ExcelDateTime, Reader, SheetType, SheetVisible, Xlsx};
use time::{Date, Duration, Month};

use super::cell_text::shown;
use super::number_format::CellFormats;

/// Excel's sheet size: 1,048,576 rows by 16,384 columns (XFD).
const EXCEL_ROWS: u32 = 1 << 20;
const EXCEL_COLUMNS: u32 = 1 << 14;

/// What a non-empty cell shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Text(String),
    /// An error value such as `#N/A`, as Excel shows it.
    Error(String),
}

impl Value {
    /// The text shown in the cell (an error as `#N/A`).
    pub(crate) fn text(&self) -> &str {
        match self {
            Value::Text(t) | Value::Error(t) => t,
        }
    }
}

/// One non-empty cell, by 0-based sheet row and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SheetCell {
    pub(crate) row: u32,
    pub(crate) col: u32,
    pub(crate) value: Value,
}

/// The non-empty cells of the chosen sheet, sorted by row then column.
#[derive(Debug)]
pub(crate) struct SheetCells {
    /// The sheet's name, for messages.
    pub(crate) name: String,
    pub(crate) cells: Vec<SheetCell>,
    /// The 0-based numbers of the rows Excel hides (a filter, or hidden by hand), sorted.
    pub(crate) hidden_rows: Vec<u32>,
}

/// True when `bytes` begin like a zip archive (as every `.xlsx` does).
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// True when `bytes` begin like an OLE2 compound file: an old `.xls` workbook, or an `.xlsx`
/// saved with a password (Excel encrypts those into the same container).
pub(crate) fn is_ole2(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
}

/// The message for an old binary workbook.
pub(crate) const OLD_WORKBOOK: &str = "this is an old Excel workbook (.xls) or a password-protected one, which is not read; in Excel save it as .xlsx (without a password) or as \"CSV UTF-8\"";

/// Reads the chosen sheet's cells (`sheet`: by name, exact or case-insensitive; default the
/// first visible worksheet), or says in one line why not.
pub(crate) fn read(bytes: &[u8], sheet: Option<&str>) -> Result<SheetCells, String> {
    if is_ole2(bytes) {
        return Err(OLD_WORKBOOK.into());
    }
    if !is_zip(bytes) {
        return Err("the file is named like an Excel workbook but is not one (it does not start like a zip archive); if it is CSV text, give it a .csv name".into());
    }
    // calamine is trusted to return errors, not to panic, on a damaged archive; should it
    // panic all the same, the user gets a one-line error rather than a crash.
    catch_unwind(AssertUnwindSafe(|| read_sheet(bytes, sheet))).unwrap_or_else(|_| {
        Err("cannot read the workbook: it looks damaged; open it in Excel and save it again as .xlsx or as \"CSV UTF-8\"".into())
    })
}

fn read_sheet(bytes: &[u8], sheet: Option<&str>) -> Result<SheetCells, String> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        format!(
            "cannot read the workbook ({}); open it in Excel and save it again as .xlsx or as \"CSV UTF-8\"",
            shown(&e.to_string())
        )
    })?;
    let name = choose_sheet(book.sheets_metadata(), sheet)?;
    let is_1904 = book.has_1904_epoch();
    // Which rows are hidden is read from the sheet's XML on a second thread, while calamine
    // reads the cells on this one.
    let (cells, hidden_rows) = std::thread::scope(|scope| {
        let hidden = scope.spawn(|| super::hidden_rows::hidden_rows(bytes, &name));
        let formats = super::number_format::cell_formats(bytes, &name);
        let cells = sheet_cells(&mut book, &name, is_1904, &formats);
        let hidden = hidden
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (cells, hidden)
    });
    Ok(SheetCells {
        name,
        cells: cells?,
        hidden_rows: hidden_rows?,
    })
}

/// The non-empty cells of the sheet `name`, sorted by row then column.
fn sheet_cells(
    book: &mut Xlsx<Cursor<&[u8]>>,
    name: &str,
    is_1904: bool,
    formats: &CellFormats,
) -> Result<Vec<SheetCell>, String> {
    let cannot = |e: &dyn std::fmt::Display| {
        format!(
            "sheet '{}': cannot read it ({})",
            shown(name),
            shown(&e.to_string())
        )
    };
    let mut reader = book.worksheet_cells_reader(name).map_err(|e| cannot(&e))?;
    let mut cells = Vec::new();
    while let Some(cell) = reader.next_cell().map_err(|e| cannot(&e))? {
        let (row, col) = cell.get_position();
        // Excel has no cell past XFD1048576; a damaged file claiming one is not believed (a
        // row as wide as its column number would be allocated).
        if row >= EXCEL_ROWS || col >= EXCEL_COLUMNS {
            continue;
        }
        // A number as its format displays it (`00042`), when one is applied.
        let formatted = match cell.get_value() {
            DataRef::Float(f) => formats.show(row, col, *f, is_1904),
            #[allow(clippy::cast_precision_loss)]
            DataRef::Int(i) => formats.show(row, col, *i as f64, is_1904),
            DataRef::DateTime(dt) if !dt.is_duration() => {
                formats.show(row, col, dt.as_f64(), is_1904)
            }
            _ => None,
        };
        if let Some(value) = formatted
            .map(Value::Text)
            .or_else(|| value_of(cell.get_value(), is_1904))
        {
            cells.push(SheetCell { row, col, value });
        }
    }
    // Excel writes cells in order; other writers might not.
    cells.sort_by_key(|c| (c.row, c.col));
    Ok(cells)
}

/// The workbook's worksheets, in order, and whether each is visible. Empty when the
/// workbook cannot be opened (the caller has already read it once).
pub(crate) fn worksheets(bytes: &[u8]) -> Vec<(String, bool)> {
    catch_unwind(AssertUnwindSafe(|| {
        Xlsx::new(Cursor::new(bytes)).map_or_else(
            |_| Vec::new(),
            |book: Xlsx<_>| {
                book.sheets_metadata()
                    .iter()
                    .filter(|s| s.typ == SheetType::WorkSheet)
                    .map(|s| (s.name.clone(), s.visible == SheetVisible::Visible))
                    .collect()
            },
        )
    }))
    .unwrap_or_default()
}

/// The sheet to read: the one named (exact name first, then ignoring case, as Excel does), or
/// the first visible worksheet, else the first worksheet.
fn choose_sheet(sheets: &[calamine::Sheet], wanted: Option<&str>) -> Result<String, String> {
    let worksheets: Vec<&calamine::Sheet> = sheets
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .collect();
    match wanted {
        Some(name) => sheets
            .iter()
            .find(|s| s.name == name)
            .or_else(|| {
                sheets
                    .iter()
                    .find(|s| s.name.to_lowercase() == name.trim().to_lowercase())
            })
            .map(|s| s.name.clone())
            .ok_or_else(|| {
                format!(
                    "no sheet named '{}' (--sheet); the sheets are: {}",
                    shown(name),
                    names(sheets)
                )
            }),
        None => worksheets
            .iter()
            .find(|s| s.visible == SheetVisible::Visible)
            .or_else(|| worksheets.first())
            .map(|s| s.name.clone())
            .ok_or_else(|| format!("the workbook has no worksheet (sheets: {})", names(sheets))),
    }
}

fn names(sheets: &[calamine::Sheet]) -> String {
    if sheets.is_empty() {
        return "none".into();
    }
    sheets
        .iter()
        .map(|s| format!("'{}'", shown(&s.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the cell shows, or `None` for an empty cell.
fn value_of(data: &DataRef<'_>, is_1904: bool) -> Option<Value> {
    let text = match data {
        DataRef::Empty => return None,
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(*f),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(dt) => date_time(dt, is_1904),
        DataRef::DateTimeIso(s) => s.strip_suffix("T00:00:00").unwrap_or(s).replace('T', " "),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => return Some(Value::Error(e.to_string())),
    };
    Some(Value::Text(text))
}

/// A number as Excel's General format shows it, near enough: whole numbers without `.0`.
fn number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        // Exact: |f| < 2^53 and whole.
        #[allow(clippy::cast_possible_truncation)]
        let whole = f as i64;
        whole.to_string()
    } else {
        f.to_string()
    }
}

/// An Excel serial date-time as ISO text; a duration (`[h]:mm:ss`) or a serial outside
/// Excel's calendar as the plain number.
fn date_time(dt: &ExcelDateTime, is_1904: bool) -> String {
    let serial = dt.as_f64();
    if dt.is_duration() || !(0.0..2_958_466.0).contains(&serial) {
        return number(serial);
    }
    let day = serial.floor();
    // Milliseconds in the day, rounded as Excel rounds what it shows.
    #[allow(clippy::cast_possible_truncation)]
    let millis = ((serial - day) * 86_400_000.0).round() as i64;
    let seconds = (millis + 500) / 1000;
    let (day, seconds) = if seconds >= 86_400 {
        (day + 1.0, 0)
    } else {
        (day, seconds)
    };
    let clock = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if day == 0.0 && !is_1904 {
        // Serial 0 is Excel's "1900-01-00": a time of day alone.
        return clock;
    }
    let Some(date) = calendar_date(day, is_1904) else {
        return number(serial);
    };
    if seconds == 0 {
        date
    } else {
        format!("{date} {clock}")
    }
}

/// `YYYY-MM-DD` of a whole serial day. In the 1900 system Excel counts a 29 February 1900 that
/// never was (serial 60); days before it are one day off from a plain count.
fn calendar_date(day: f64, is_1904: bool) -> Option<String> {
    #[allow(clippy::cast_possible_truncation)]
    let day = day as i64;
    let (epoch, offset) = if is_1904 {
        (Date::from_calendar_date(1904, Month::January, 1).ok()?, day)
    } else if day == 60 {
        return Some("1900-02-29".into());
    } else if day < 60 {
        (
            Date::from_calendar_date(1899, Month::December, 31).ok()?,
            day,
        )
    } else {
        (
            Date::from_calendar_date(1899, Month::December, 30).ok()?,
            day,
        )
    };
    let date = epoch.checked_add(Duration::days(offset))?;
    Some(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

#[cfg(test)]
mod tests {
    use calamine::ExcelDateTimeType;

    use super::*;

    fn dt(serial: f64) -> String {
        date_time(
            &ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false),
            false,
        )
    }

    #[test]
    fn whole_numbers_show_without_a_fraction() {
        assert_eq!(number(1234.0), "1234");
        assert_eq!(number(-7.0), "-7");
        assert_eq!(number(1234.5), "1234.5");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn dates_show_as_iso() {
        assert_eq!(dt(45_306.0), "2024-01-15");
        assert_eq!(dt(45_306.5), "2024-01-15 12:00:00");
        assert_eq!(dt(0.25), "06:00:00");
        assert_eq!(dt(1.0), "1900-01-01");
        assert_eq!(dt(59.0), "1900-02-28");
        assert_eq!(dt(60.0), "1900-02-29");
        assert_eq!(dt(61.0), "1900-03-01");
        assert_eq!(dt(2_958_465.0), "9999-12-31");
        assert_eq!(
            date_time(
                &ExcelDateTime::new(0.0, ExcelDateTimeType::DateTime, true),
                true
            ),
            "1904-01-01"
        );
    }

    #[test]
    fn out_of_calendar_serials_and_durations_show_as_numbers() {
        assert_eq!(dt(-1.0), "-1");
        assert!(dt(1e300).starts_with("1000"));
        assert_eq!(dt(f64::NAN), "NaN");
        let d = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(date_time(&d, false), "1.5");
    }

    #[test]
    fn sheet_is_chosen_by_name_or_first_visible_worksheet() {
        let sheet = |name: &str, visible| calamine::Sheet {
            name: name.into(),
            typ: SheetType::WorkSheet,
            visible,
        };
        let sheets = [
            sheet("Hidden", SheetVisible::Hidden),
            sheet("Users", SheetVisible::Visible),
            sheet("Notes", SheetVisible::Visible),
        ];
        assert_eq!(choose_sheet(&sheets, None).unwrap(), "Users");
        assert_eq!(choose_sheet(&sheets, Some("notes")).unwrap(), "Notes");
        assert_eq!(
            choose_sheet(&sheets, Some("Other")).unwrap_err(),
            "no sheet named 'Other' (--sheet); the sheets are: 'Hidden', 'Users', 'Notes'"
        );
        assert!(
            choose_sheet(&[], None)
                .unwrap_err()
                .contains("no worksheet")
        );
    }

    #[test]
    fn not_a_workbook_is_a_one_line_error() {
        assert!(
            read(b"upn,action\n", None)
                .unwrap_err()
                .contains(".csv name")
        );
        assert!(
            read(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1xx", None)
                .unwrap_err()
                .contains("(.xls)")
        );
        let err = read(b"PK\x03\x04garbage", None).unwrap_err();
        assert!(err.starts_with("cannot read the workbook"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
