//! Which rows of a workbook's sheet Excel hides: rows a filter left out, or rows hidden by
//! hand. calamine reads every cell but does not say, so the sheet's own XML is read for its
//! `<row r="N" hidden="1">` elements (ECMA-376 Part 1, §18.3.1.73). Streamed: a sheet of a
//! million rows costs a pass over its XML, not its size in memory.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Cursor, Read, Seek};

use quick_xml::Reader;
use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;

use super::cell_text::shown;

/// The 0-based numbers of the hidden rows of the sheet named `sheet`, sorted, each once.
pub(crate) fn hidden_rows(bytes: &[u8], sheet: &str) -> Result<Vec<u32>, String> {
    let cannot = |what: &str| {
        format!(
            "sheet '{}': cannot tell which rows are hidden ({what}); open the workbook in Excel and save it again",
            shown(sheet)
        )
    };
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| cannot(&e.to_string()))?;
    let rels = relationships(&mut zip).map_err(|e| cannot(&e))?;
    let path = sheet_path(&mut zip, sheet, &rels).map_err(|e| cannot(&e))?;
    let entry = entry_named(&zip, &path).ok_or_else(|| cannot(&format!("no part {path}")))?;
    let file = zip.by_index(entry).map_err(|e| cannot(&e.to_string()))?;
    let mut hidden = hidden_in(BufReader::new(file)).map_err(|e| cannot(&e))?;
    // Excel writes rows in order; other writers might not.
    hidden.sort_unstable();
    hidden.dedup();
    Ok(hidden)
}

/// The hidden rows of one worksheet's XML.
fn hidden_in(xml: impl BufRead) -> Result<Vec<u32>, String> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut hidden = Vec::new();
    // A row without `r` is the one after the previous row (§18.3.1.73).
    let mut next: u32 = 1;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| e.to_string())?
        {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"row" => {
                let decoder = reader.decoder();
                let number = match attribute(&e, decoder, b"r")? {
                    Some(r) => r
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("a row is numbered '{}'", shown(&r)))?,
                    None => next,
                };
                next = number.saturating_add(1);
                if attribute(&e, decoder, b"hidden")?.is_some_and(|v| v == "1" || v == "true") {
                    hidden.push(number - 1);
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"sheetData" => break,
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(hidden)
}

/// The value of the attribute whose local name is `name`, decoded and unescaped.
pub(crate) fn attribute(
    e: &BytesStart<'_>,
    decoder: Decoder,
    name: &[u8],
) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        if a.key.local_name().as_ref() == name {
            let value = a
                .decode_and_unescape_value(decoder)
                .map_err(|e| e.to_string())?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// The workbook's relationships: id → target.
pub(crate) fn relationships<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
) -> Result<HashMap<String, String>, String> {
    let mut rels = HashMap::new();
    each_element(
        zip,
        "xl/_rels/workbook.xml.rels",
        b"Relationship",
        |e, d| {
            if let (Some(id), Some(target)) = (attribute(e, d, b"Id")?, attribute(e, d, b"Target")?)
            {
                rels.insert(id, target);
            }
            Ok(())
        },
    )?;
    Ok(rels)
}

/// The zip path of the sheet named `sheet`.
pub(crate) fn sheet_path<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    sheet: &str,
    rels: &HashMap<String, String>,
) -> Result<String, String> {
    let mut target = None;
    each_element(zip, "xl/workbook.xml", b"sheet", |e, d| {
        if target.is_none() && attribute(e, d, b"name")?.as_deref() == Some(sheet) {
            // `r:id`: matched by local name, whatever the namespace prefix.
            let id = attribute(e, d, b"id")?.unwrap_or_default();
            target = Some(
                rels.get(&id)
                    .cloned()
                    .ok_or_else(|| format!("no relationship {}", shown(&id)))?,
            );
        }
        Ok(())
    })?;
    let target = target.ok_or("the workbook does not list it")?;
    // Targets are relative to `xl/`, or absolute from the package root.
    Ok(match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None if target.starts_with("xl/") => target,
        None => format!("xl/{target}"),
    })
}

/// Calls `f` on every element named `name` (by local name) of the part at `path`.
pub(crate) fn each_element<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    path: &str,
    name: &[u8],
    mut f: impl FnMut(&BytesStart<'_>, Decoder) -> Result<(), String>,
) -> Result<(), String> {
    let index = entry_named(zip, path).ok_or_else(|| format!("no part {path}"))?;
    let file = zip.by_index(index).map_err(|e| e.to_string())?;
    let mut reader = Reader::from_reader(BufReader::new(file));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| e.to_string())?
        {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == name => {
                f(&e, reader.decoder())?;
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// The index of the zip entry at `path`, compared as Excel does: ignoring case, and with `\`
/// taken for `/` (some writers use it).
pub(crate) fn entry_named<R: Read + Seek>(zip: &ZipArchive<R>, path: &str) -> Option<usize> {
    let want = path.replace('\\', "/");
    zip.file_names()
        .find(|n| n.replace('\\', "/").eq_ignore_ascii_case(&want))
        .and_then(|n| zip.index_for_name(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden(xml: &str) -> Result<Vec<u32>, String> {
        hidden_in(xml.as_bytes())
    }

    #[test]
    fn hidden_rows_are_found_by_number_or_by_position() {
        let xml = r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
            <row r="1"><c r="A1"/></row>
            <row r="3" hidden="1"><c r="A3"/></row>
            <row hidden="true"/>
            <row r="7" hidden="0"/>
            <row/>
            <row r="10" spans="1:2" hidden="1"></row>
        </sheetData><row r="12" hidden="1"/></worksheet>"#;
        // Row 4 follows row 3; the row after 7 is 8. A row outside sheetData is not one.
        assert_eq!(hidden(xml).unwrap(), vec![2, 3, 9]);
    }

    #[test]
    fn a_sheet_without_hidden_rows_has_none() {
        let xml = r#"<worksheet><sheetData><row r="1"/><row r="2"/></sheetData></worksheet>"#;
        assert_eq!(hidden(xml).unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn a_bad_row_number_is_an_error_not_a_guess() {
        let err = hidden(r#"<worksheet><sheetData><row r="x1"/></sheetData></worksheet>"#);
        assert_eq!(err.unwrap_err(), "a row is numbered 'x1'");
        let err = hidden(r#"<worksheet><sheetData><row r="0"/></sheetData></worksheet>"#);
        assert!(err.is_err());
    }
}
