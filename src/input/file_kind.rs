//! Files that are not CSV text nor an `.xlsx` workbook, named by what they are, with how to
//! save them instead: an OpenDocument spreadsheet (`.ods`), a binary workbook (`.xlsb`), an
//! old `.xls` or a password-protected workbook (both OLE2 compound files), a web page or an
//! Excel 2003 XML file saved under a spreadsheet's name. Without this a `.ods` failed with
//! the zip reader's internal error and an HTML "Excel export" was called password-protected.
//!
//! Judged from the content, not the name: the first bytes, the zip's first entry, the names
//! of its parts.

/// How to save a file so that it is read.
const SAVE_AS: &str = "save it as an Excel workbook (.xlsx) or as \"CSV UTF-8\"";

/// What the file is and how to save it, when it is a kind that is not read; `None` for CSV
/// text and `.xlsx` workbooks (and for anything else, which the CSV reader judges).
pub(crate) fn unreadable_kind(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(b"PK\x03\x04") {
        return zip_kind(bytes);
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Some(ole2_kind(bytes));
    }
    markup_kind(bytes)
}

/// An OpenDocument file or an `.xlsb` workbook, from the zip's parts.
fn zip_kind(bytes: &[u8]) -> Option<String> {
    // OpenDocument puts an uncompressed `mimetype` entry first (OpenDocument v1.2 Part 3,
    // §3.3): its content follows the 30-byte local header and the 8-byte name.
    if bytes.get(30..38) == Some(b"mimetype") {
        let mime = bytes.get(38..).unwrap_or_default();
        let mime = mime.get(..60).unwrap_or(mime);
        let mime = String::from_utf8_lossy(mime);
        if mime.starts_with("application/vnd.oasis.opendocument.spreadsheet") {
            return Some(format!(
                "this is an OpenDocument spreadsheet (.ods, as LibreOffice Calc and OpenOffice save), which is not read; open it in LibreOffice Calc and {SAVE_AS}"
            ));
        }
        if mime.starts_with("application/vnd.oasis.opendocument") {
            return Some(format!(
                "this is an OpenDocument file, not a spreadsheet; put the users in a sheet and {SAVE_AS}"
            ));
        }
    }
    // Part names are stored in the clear in the zip's headers.
    if contains(bytes, b"xl/workbook.bin") {
        return Some(format!(
            "this is an Excel binary workbook (.xlsb), which is not read; open it in Excel and {SAVE_AS}"
        ));
    }
    if contains(bytes, b"word/document.xml") {
        return Some(format!(
            "this is a Word document (.docx), not a spreadsheet; put the users in a sheet and {SAVE_AS}"
        ));
    }
    None
}

/// An encrypted workbook or an old `.xls`: both are OLE2 compound files; an encrypted one
/// holds an `EncryptedPackage` stream (MS-OFFCRYPTO §2.3.4.4), named in UTF-16 in the
/// directory.
fn ole2_kind(bytes: &[u8]) -> String {
    let encrypted: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if contains(bytes, &encrypted) {
        format!(
            "this workbook is protected by a password (encrypted), which is not read; open it in Excel, remove the password (File > Info > Protect Workbook) and {SAVE_AS}"
        )
    } else {
        format!(
            "this is an old Excel 97-2003 workbook (.xls), which is not read; open it in Excel and {SAVE_AS}"
        )
    }
}

/// A web page (many systems export "Excel" files as an HTML table) or an Excel 2003 XML
/// spreadsheet, whatever the name.
fn markup_kind(bytes: &[u8]) -> Option<String> {
    let head = bytes.get(..2048).unwrap_or(bytes);
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = String::from_utf8_lossy(head.get(start..).unwrap_or_default()).to_lowercase();
    if !text.starts_with('<') {
        return None;
    }
    if text.contains("urn:schemas-microsoft-com:office:spreadsheet") {
        return Some(format!(
            "this is an Excel 2003 XML spreadsheet, which is not read; open it in Excel and {SAVE_AS}"
        ));
    }
    let html = [
        "<!doctype html",
        "<html",
        "<table",
        "<head",
        "<body",
        "<meta",
    ];
    let is_html = text.starts_with("<?xml") && text.contains("<html")
        || html.iter().any(|tag| text.starts_with(tag));
    is_html.then(|| {
        format!(
            "this is a web page (HTML), not a spreadsheet, though it may be named like one (some systems export \"Excel\" files this way); open it in Excel and {SAVE_AS}"
        )
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opendocument_and_binary_workbooks_are_named() {
        let mut ods = b"PK\x03\x04".to_vec();
        ods.extend([0u8; 26]);
        ods.extend(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheetPK");
        let m = unreadable_kind(&ods).unwrap();
        assert!(
            m.starts_with("this is an OpenDocument spreadsheet (.ods"),
            "{m}"
        );
        assert!(m.ends_with("(.xlsx) or as \"CSV UTF-8\""), "{m}");
        let mut xlsb = b"PK\x03\x04".to_vec();
        xlsb.extend(b"...xl/workbook.bin...");
        assert!(unreadable_kind(&xlsb).unwrap().contains("(.xlsb)"));
        let mut xlsx = b"PK\x03\x04".to_vec();
        xlsx.extend(b"...xl/workbook.xml...");
        assert_eq!(unreadable_kind(&xlsx), None);
    }

    #[test]
    fn old_and_encrypted_ole2_files_are_told_apart() {
        let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        assert!(unreadable_kind(&ole).unwrap().contains("(.xls)"));
        ole.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert!(unreadable_kind(&ole).unwrap().contains("password"));
    }

    #[test]
    fn web_pages_and_2003_xml_are_named_but_csv_is_not() {
        for page in [
            "<html><body><table><tr><td>upn</td></tr></table></body></html>",
            "\u{feff}\r\n<!DOCTYPE html><html>",
            "<table border=1><tr><td>upn</td>",
            "<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\">",
        ] {
            let m = unreadable_kind(page.as_bytes()).unwrap_or_default();
            assert!(m.starts_with("this is a web page (HTML)"), "{page}: {m}");
        }
        let xml = "<?xml version=\"1.0\"?>\n<Workbook xmlns=\"urn:schemas-microsoft-com:office:spreadsheet\">";
        assert!(
            unreadable_kind(xml.as_bytes())
                .unwrap()
                .contains("Excel 2003 XML")
        );
        assert_eq!(unreadable_kind(b"upn,action\na@x.com,enable\n"), None);
        assert_eq!(unreadable_kind(b"<weird>,action\n"), None);
        assert_eq!(unreadable_kind(b""), None);
    }
}
