//! `GET /users` (v1.0 and beta), the list route, as strict as docs/graph.md §9.2 reads:
//! `$top` 1–999 (default page 100), `@odata.nextLink` paging with an opaque `$skiptoken`,
//! `$select` (as `GET /users/{key}` reads it, `user_properties.rs`), and `$filter`
//! with only the clauses Graph supports without advanced query parameters: `eq` on `mail`,
//! `userPrincipalName`, `userType` and `accountEnabled`, and
//! `proxyAddresses/any(p:p eq '…')`. Everything else is Graph's `400`: advanced operators
//! (`ne`, `not`, `in`, `endsWith`, `eq null`) are `Request_UnsupportedQuery`, as is what the
//! emulator does not model (`and`/`or`, `startsWith`, other properties; the message says so);
//! malformed syntax, unknown properties and unknown query options are `BadRequest`. Reading
//! needs a `User.Read.All`-class permission, else `403`. The choices made where Microsoft's
//! docs are silent are listed in docs/tenant-format.md.

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::graph_error::GraphError;
use super::list_query::{self, Bound};
use super::tenant::{Tenant, User};
use super::user_properties::{Property, Selection};

/// Permissions that may list and filter users (docs/graph.md §9.1, §9.2): the full user-read
/// ones. User.ReadBasic.All is not among them (the stricter reading; docs/tenant-format.md).
pub(crate) use super::user_properties::USER_READ_ALL as LIST_READ;

/// Graph's page size when `$top` is absent, and the largest `$top` it takes (§9.2).
pub(crate) const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 999;

/// Properties Graph returns only on a single-user GET: selecting them in a list is `501`.
const SINGLE_GET_ONLY: [&str; 11] = [
    "aboutMe",
    "birthday",
    "hireDate",
    "interests",
    "mySite",
    "pastProjects",
    "preferredName",
    "responsibilities",
    "schools",
    "skills",
    "mailboxSettings",
];

/// Whether `path` (relative to the version, no leading slash, no query) is the users list.
pub(crate) fn is_list(path: &str) -> bool {
    let p = path.strip_suffix('/').unwrap_or(path);
    percent_decode_str(p)
        .decode_utf8_lossy()
        .eq_ignore_ascii_case("users")
}

/// One `$filter` clause the emulator evaluates.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    /// `mail`, `userPrincipalName` or `userType` `eq '…'`.
    Text(TextProperty, String),
    AccountEnabled(bool),
    /// `proxyAddresses/any(p:p eq '…')`.
    Proxy(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TextProperty {
    Mail,
    UserPrincipalName,
    UserType,
}

impl Filter {
    fn matches(&self, u: &User) -> bool {
        match self {
            // Mail, UPN and user type compare case-insensitively (a documented choice).
            Filter::Text(TextProperty::Mail, v) => {
                u.mail.as_deref().is_some_and(|m| same_text(m, v))
            }
            Filter::Text(TextProperty::UserPrincipalName, v) => same_text(&u.upn, v),
            Filter::Text(TextProperty::UserType, v) => same_text(&u.user_type, v),
            Filter::AccountEnabled(b) => u.account_enabled == *b,
            Filter::Proxy(v) => u.proxy_addresses.iter().any(|p| same_proxy(p, v)),
        }
    }
}

fn same_text(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// A proxy address matches when its `type:` prefix is the same, case included (`SMTP:` is
/// the primary address, `smtp:` a secondary one), and its address is the same in any case.
fn same_proxy(stored: &str, wanted: &str) -> bool {
    match (stored.split_once(':'), wanted.split_once(':')) {
        (Some((sp, sa)), Some((wp, wa))) => sp == wp && same_text(sa, wa),
        _ => false,
    }
}

/// The parsed query options of one list request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    filter: Option<Filter>,
    select: Selection,
    top: Option<usize>,
    /// Where this page starts (from `$skiptoken`).
    offset: usize,
    /// The options as sent (still encoded), less `$skiptoken`: the next link repeats them.
    carried: Vec<String>,
    /// Binds a skip token to the options it was issued for.
    fingerprint: u64,
}

pub(crate) fn unsupported(message: impl Into<String>) -> GraphError {
    GraphError::new(400, "Request_UnsupportedQuery", message)
}

fn not_modelled(what: &str) -> GraphError {
    unsupported(format!(
        "Unsupported or invalid query filter clause specified: {what} (the emulator models only eq on mail, userPrincipalName, userType, accountEnabled and proxyAddresses/any(p:p eq '…'))."
    ))
}

fn no_property(name: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Could not find a property named '{name}' on type 'microsoft.graph.user'."
    ))
}

/// Decodes one query value: `%XX` escapes, and `+` as a space, as form-style query strings
/// are read (so a literal `+` in a mail address must be sent as `%2B`).
pub(crate) fn decode(raw: &str) -> Result<String, GraphError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| GraphError::bad_request("The query string is not valid UTF-8 once decoded."))
}

/// FNV-1a: a stable fingerprint of the options a skip token belongs to.
pub(crate) fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Parses the query string of a list request (`None`: no query at all).
pub(crate) fn parse_query(query: Option<&str>) -> Result<Query, GraphError> {
    let mut filter = None;
    let mut select = Selection::default();
    let mut top = None;
    let paging = list_query::bind(query, |lower, name, value| {
        match lower {
            "$filter" => filter = Some(parse_filter(&value)?),
            "$select" => select = parse_select(&value)?,
            "$top" => top = Some(parse_top(&value)?),
            "$skiptoken" => return Ok(Bound::SkipToken),
            "$skip" => {
                return Err(unsupported(
                    "The query option '$skip' is not supported on users; follow @odata.nextLink.",
                ));
            }
            "$count" | "$orderby" | "$search" | "$expand" | "$format" => {
                return Err(unsupported(format!(
                    "The query option '{name}' is not modelled by the emulator."
                )));
            }
            _ => {
                return Err(GraphError::bad_request(format!(
                    "The query parameter '{name}' is not supported."
                )));
            }
        }
        Ok(Bound::Applied)
    })?;
    Ok(Query {
        filter,
        select,
        top,
        offset: paging.offset,
        carried: paging.carried,
        fingerprint: paging.fingerprint,
    })
}

pub(crate) fn parse_top(value: &str) -> Result<usize, GraphError> {
    let n: i64 = value.trim().parse().map_err(|_| {
        GraphError::bad_request(format!(
            "Invalid value '{value}' for $top query option found."
        ))
    })?;
    if !(1..=MAX_PAGE as i64).contains(&n) {
        return Err(GraphError::new(
            400,
            "Request_BadRequest",
            format!(
                "Invalid page size specified: '{n}'. Must be between 1 and {MAX_PAGE} inclusive."
            ),
        ));
    }
    Ok(n as usize)
}

pub(crate) fn parse_select(value: &str) -> Result<Selection, GraphError> {
    if value.split(',').any(|name| {
        SINGLE_GET_ONLY
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name.trim()))
    }) {
        return Err(GraphError::new(
            501,
            "NotImplemented",
            "This operation target is not yet supported.",
        ));
    }
    Selection::from_select(value)
}

pub(crate) fn make_skiptoken(offset: usize, fingerprint: u64) -> String {
    format!("X{offset:x}-{fingerprint:016x}")
}

pub(crate) fn read_skiptoken(token: &str, fingerprint: u64) -> Result<usize, GraphError> {
    let invalid = || {
        GraphError::bad_request(
            "The $skiptoken is invalid or does not belong to this query; send @odata.nextLink as it came.",
        )
    };
    let body = token.strip_prefix('X').ok_or_else(invalid)?;
    let (offset, print) = body.split_once('-').ok_or_else(invalid)?;
    let offset = usize::from_str_radix(offset, 16).map_err(|_| invalid())?;
    if u64::from_str_radix(print, 16).ok() != Some(fingerprint) {
        return Err(invalid());
    }
    Ok(offset)
}

/// A tiny cursor over the `$filter` text.
pub(crate) struct Cursor<'a> {
    pub(crate) text: &'a str,
    pub(crate) at: usize,
}

impl Cursor<'_> {
    pub(crate) fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    pub(crate) fn skip_spaces(&mut self) {
        let trimmed = self.rest().trim_start_matches(' ');
        self.at = self.text.len() - trimmed.len();
    }

    pub(crate) fn syntax(&self, expected: &str) -> GraphError {
        GraphError::bad_request(format!(
            "Invalid filter clause: syntax error at position {} in '{}': expected {expected}.",
            self.at, self.text
        ))
    }

    pub(crate) fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, token: &str) -> Result<(), GraphError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.syntax(&format!("'{token}'")))
        }
    }

    pub(crate) fn identifier(&mut self) -> Result<&str, GraphError> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|(i, c)| {
                !(c.is_ascii_alphanumeric() || *c == '_') || (*i == 0 && c.is_ascii_digit())
            })
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            return Err(self.syntax("a name"));
        }
        let start = self.at;
        self.at += len;
        Ok(&self.text[start..self.at])
    }

    /// A quoted OData string literal, `''` standing for one apostrophe.
    pub(crate) fn string(&mut self) -> Result<String, GraphError> {
        self.expect("'")?;
        let mut out = String::new();
        loop {
            let rest = self.rest();
            let Some(i) = rest.find('\'') else {
                return Err(self.syntax("a closing quote"));
            };
            out.push_str(&rest[..i]);
            self.at += i + 1;
            if self.rest().starts_with('\'') {
                out.push('\'');
                self.at += 1;
            } else {
                return Ok(out);
            }
        }
    }
}

/// What follows a property: `eq` and a value, or an operator Graph needs advanced query
/// parameters for (or does not have).
enum Literal {
    Text(String),
    Bool(bool),
    Null,
}

fn comparison(c: &mut Cursor<'_>, property: &str) -> Result<Literal, GraphError> {
    c.skip_spaces();
    let op = c.identifier()?.to_string();
    match op.as_str() {
        "eq" => {}
        "ne" | "in" | "ge" | "le" | "gt" | "lt" => {
            return Err(unsupported(format!(
                "Operator '{op}' on property '{property}' needs advanced query parameters (ConsistencyLevel: eventual and $count=true), which the emulator does not model."
            )));
        }
        _ => return Err(c.syntax("an operator such as 'eq'")),
    }
    c.skip_spaces();
    if c.rest().starts_with('\'') {
        return c.string().map(Literal::Text);
    }
    let word = c.identifier()?.to_string();
    match word.as_str() {
        "true" => Ok(Literal::Bool(true)),
        "false" => Ok(Literal::Bool(false)),
        "null" => Ok(Literal::Null),
        _ => Err(c.syntax("a literal")),
    }
}

fn incompatible(property: &str, kind: &str, found: &str) -> GraphError {
    GraphError::bad_request(format!(
        "A binary operator with incompatible types was detected. Found operand types '{kind}' and '{found}' for operator kind 'Equal' (property '{property}')."
    ))
}

fn parse_filter(text: &str) -> Result<Filter, GraphError> {
    let mut c = Cursor { text, at: 0 };
    c.skip_spaces();
    let name = c.identifier()?.to_string();
    let filter = if c.eat("/") {
        let function = c.identifier()?.to_string();
        if name != "proxyAddresses" {
            return Err(match name.as_str() {
                "otherMails" => not_modelled("otherMails/any"),
                _ if Property::parse(&name).is_some() || known_elsewhere(&name) => {
                    GraphError::bad_request(format!(
                        "The property '{name}' is not a collection; any() needs one."
                    ))
                }
                _ => no_property(&name),
            });
        }
        if function != "any" {
            return Err(not_modelled(&format!("{name}/{function}")));
        }
        c.expect("(")?;
        c.skip_spaces();
        let var = c.identifier()?.to_string();
        c.skip_spaces();
        c.expect(":")?;
        c.skip_spaces();
        let used = c.identifier()?.to_string();
        if used != var {
            return Err(GraphError::bad_request(format!(
                "Could not find a property named '{used}' on type 'microsoft.graph.user'."
            )));
        }
        let value = match comparison(&mut c, &name)? {
            Literal::Text(v) => v,
            Literal::Bool(_) => return Err(incompatible(&name, "Edm.String", "Edm.Boolean")),
            Literal::Null => return Err(unsupported("eq null inside any() is not supported.")),
        };
        c.skip_spaces();
        c.expect(")")?;
        Filter::Proxy(value)
    } else if c.rest().trim_start().starts_with('(') {
        // A function: startsWith, endsWith, not(…) and the like.
        return Err(match name.to_ascii_lowercase().as_str() {
            "endswith" | "not" => unsupported(format!(
                "'{name}' needs advanced query parameters (ConsistencyLevel: eventual and $count=true), which the emulator does not model."
            )),
            _ => not_modelled(&format!("{name}(…)")),
        });
    } else {
        let text_property = match name.as_str() {
            "mail" => Some(TextProperty::Mail),
            "userPrincipalName" => Some(TextProperty::UserPrincipalName),
            "userType" => Some(TextProperty::UserType),
            "accountEnabled" => None,
            "proxyAddresses" | "otherMails" | "businessPhones" => {
                return Err(GraphError::bad_request(format!(
                    "The property '{name}' is a collection: filter it with {name}/any(p:p eq '…')."
                )));
            }
            other if Property::parse(other).is_some() || known_elsewhere(other) => {
                return Err(not_modelled(&format!("{other} eq …")));
            }
            other => return Err(no_property(other)),
        };
        match (text_property, comparison(&mut c, &name)?) {
            (Some(p), Literal::Text(v)) => Filter::Text(p, v),
            (None, Literal::Bool(b)) => Filter::AccountEnabled(b),
            (Some(_), Literal::Bool(_)) => {
                return Err(incompatible(&name, "Edm.String", "Edm.Boolean"));
            }
            (None, Literal::Text(_)) => {
                return Err(incompatible(&name, "Edm.Boolean", "Edm.String"));
            }
            (_, Literal::Null) => {
                return Err(unsupported(format!(
                    "'{name} eq null' needs advanced query parameters or is not supported."
                )));
            }
        }
    };
    c.skip_spaces();
    if c.rest().is_empty() {
        return Ok(filter);
    }
    let word = c.identifier().unwrap_or_default().to_string();
    Err(match word.as_str() {
        "and" | "or" => not_modelled(&format!("'{word}' joining clauses")),
        _ => c.syntax("the end of the filter"),
    })
}

/// User properties Graph filters on that the emulator does not model as values (so a
/// filter on them is "not modelled", not "no such property").
fn known_elsewhere(name: &str) -> bool {
    matches!(
        name,
        "otherMails" | "creationType" | "externalUserState" | "employeeId" | "department"
    )
}

/// The page of users `q` asks for, with `@odata.nextLink` when more follow (`base` is the
/// emulator's URL, `version` `v1.0` or `beta`).
pub(crate) fn page(tenant: &Tenant, q: &Query, base: &str, version: &str) -> Value {
    let size = q.top.unwrap_or(DEFAULT_PAGE);
    let mut matching = tenant
        .users
        .iter()
        .filter(|u| q.filter.as_ref().is_none_or(|f| f.matches(u)))
        .skip(q.offset);
    let value: Vec<Value> = matching
        .by_ref()
        .take(size)
        .map(|u| q.select.properties_json(u))
        .collect();
    let more = matching.next().is_some();
    let context = match q.select.names() {
        Some(names) => format!(
            "https://graph.microsoft.com/{version}/$metadata#users({})",
            names.join(",")
        ),
        None => format!("https://graph.microsoft.com/{version}/$metadata#users"),
    };
    let mut body = json!({"@odata.context": context, "value": value});
    if more {
        let mut options = q.carried.clone();
        options.push(format!(
            "$skiptoken={}",
            make_skiptoken(q.offset + size, q.fingerprint)
        ));
        body["@odata.nextLink"] = json!(format!("{base}/{version}/users?{}", options.join("&")));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::UserSpec;

    fn tenant() -> Tenant {
        let spec = |upn: &str, user_type: &str| UserSpec {
            id: None,
            upn: upn.into(),
            display_name: None,
            user_type: user_type.into(),
            mail: None,
            proxy_addresses: vec![],
            account_enabled: true,
            per_user_mfa_state: "disabled".into(),
            methods: vec![],
            default_method: None,
            system_preferred: false,
        };
        let mut t = Tenant::build(
            &[
                spec("ab@contoso.onmicrosoft.com", "Member"),
                spec("ann_fabrikam.com#EXT#@contoso.onmicrosoft.com", "Guest"),
                spec("cd@contoso.onmicrosoft.com", "Member"),
            ],
            1,
        )
        .unwrap();
        t.users[0].mail = Some("A.B@contoso.com".into());
        t.users[0].proxy_addresses = vec![
            "SMTP:A.B@contoso.com".into(),
            "smtp:alias@contoso.com".into(),
        ];
        t.users[1].mail = Some("ann@fabrikam.com".into());
        t.users[2].account_enabled = false;
        t
    }

    fn list(query: &str) -> Result<Value, GraphError> {
        let q = parse_query(Some(query))?;
        Ok(page(&tenant(), &q, "http://127.0.0.1:1", "v1.0"))
    }

    fn upns(v: &Value) -> Vec<String> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userPrincipalName"].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn mail_eq_matches_in_any_case_and_select_returns_exactly_what_it_names() {
        let v = list("$filter=mail%20eq%20'a.b@CONTOSO.com'&$select=id,userPrincipalName").unwrap();
        assert_eq!(upns(&v), ["ab@contoso.onmicrosoft.com"]);
        let user = v["value"][0].as_object().unwrap();
        assert_eq!(user.keys().collect::<Vec<_>>(), ["id", "userPrincipalName"]);
        assert!(
            v["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("#users(id,userPrincipalName)")
        );
    }

    #[test]
    fn proxy_addresses_match_their_prefix_exactly_and_their_address_in_any_case() {
        let v = list("$filter=proxyAddresses/any(x:x%20eq%20'smtp:ALIAS@contoso.com')").unwrap();
        assert_eq!(upns(&v), ["ab@contoso.onmicrosoft.com"]);
        // The primary address is `SMTP:`; `smtp:` names secondary ones only.
        let v = list("$filter=proxyAddresses/any(p:p eq 'smtp:a.b@contoso.com')").unwrap();
        assert!(upns(&v).is_empty());
        let v = list("$filter=proxyAddresses/any(p:p eq 'SMTP:a.b@contoso.com')").unwrap();
        assert_eq!(upns(&v).len(), 1);
    }

    #[test]
    fn user_type_account_enabled_and_upn_filters() {
        let v = list("$filter=userType eq 'Guest'").unwrap();
        assert_eq!(upns(&v), ["ann_fabrikam.com#EXT#@contoso.onmicrosoft.com"]);
        let v = list("$filter=accountEnabled eq false").unwrap();
        assert_eq!(upns(&v), ["cd@contoso.onmicrosoft.com"]);
        let v = list(
            "$filter=userPrincipalName eq 'ann_fabrikam.com%23EXT%23@contoso.onmicrosoft.com'",
        )
        .unwrap();
        assert_eq!(upns(&v).len(), 1);
        let v = list("$filter=mail eq 'o''brien@contoso.com'").unwrap();
        assert!(upns(&v).is_empty());
    }

    #[test]
    fn without_select_the_default_set_comes_back_without_user_type() {
        let v = list("$top=1").unwrap();
        let user = v["value"][0].as_object().unwrap();
        assert_eq!(user.len(), 11);
        assert!(!user.contains_key("userType") && !user.contains_key("accountEnabled"));
    }

    #[test]
    fn paging_follows_the_next_link_and_a_forged_token_is_refused() {
        let t = tenant();
        let q = parse_query(Some("$top=2&$select=id")).unwrap();
        let first = page(&t, &q, "http://h", "beta");
        assert_eq!(first["value"].as_array().unwrap().len(), 2);
        let next = first["@odata.nextLink"].as_str().unwrap();
        assert!(
            next.starts_with("http://h/beta/users?$top=2&$select=id&$skiptoken="),
            "{next}"
        );
        let query = next.split_once('?').unwrap().1;
        let second = page(&t, &parse_query(Some(query)).unwrap(), "http://h", "beta");
        assert_eq!(second["value"].as_array().unwrap().len(), 1);
        assert!(second.get("@odata.nextLink").is_none());
        // The token belongs to its query: another $top with it is refused.
        let forged = query.replace("$top=2", "$top=1");
        assert_eq!(parse_query(Some(&forged)).unwrap_err().status, 400);
        assert_eq!(
            parse_query(Some("$skiptoken=nonsense")).unwrap_err().status,
            400
        );
    }

    #[test]
    fn top_must_be_between_1_and_999() {
        for bad in ["0", "1000", "-1", "x", ""] {
            let e = parse_query(Some(&format!("$top={bad}"))).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
        assert!(parse_query(Some("$top=999")).is_ok());
        let e = parse_query(Some("$top=1000")).unwrap_err();
        assert!(e.message.contains("between 1 and 999"), "{}", e.message);
    }

    #[track_caller]
    fn refused(query: &str, status: u16, code: &str) {
        let e = parse_query(Some(query)).unwrap_err();
        assert_eq!((e.status, e.code), (status, code), "{query}: {}", e.message);
    }

    #[test]
    fn filters_graph_does_not_take_by_default_are_refused_with_its_codes() {
        refused("$filter=mail ne 'a@x.com'", 400, "Request_UnsupportedQuery");
        refused(
            "$filter=endsWith(mail,'@x.com')",
            400,
            "Request_UnsupportedQuery",
        );
        refused("$filter=mail eq null", 400, "Request_UnsupportedQuery");
        refused(
            "$filter=accountEnabled eq null",
            400,
            "Request_UnsupportedQuery",
        );
        refused(
            "$filter=mail in ('a@x.com')",
            400,
            "Request_UnsupportedQuery",
        );
        refused(
            "$filter=mail eq 'a@x.com' or mail eq 'b@x.com'",
            400,
            "Request_UnsupportedQuery",
        );
        refused(
            "$filter=displayName eq 'A'",
            400,
            "Request_UnsupportedQuery",
        );
        refused("$filter=shoeSize eq '9'", 400, "BadRequest");
        refused("$filter=mail eq 'unterminated", 400, "BadRequest");
        refused("$filter=mail eq true", 400, "BadRequest");
        refused("$filter=accountEnabled eq 'true'", 400, "BadRequest");
        refused(
            "$filter=proxyAddresses eq 'smtp:a@x.com'",
            400,
            "BadRequest",
        );
        refused("$select=id,shoeSize", 400, "BadRequest");
        refused("$select=id,hireDate", 501, "NotImplemented");
        refused("$select=AboutMe", 501, "NotImplemented");
        refused("$skip=5", 400, "Request_UnsupportedQuery");
        refused("$top=5&$top=6", 400, "BadRequest");
        refused("foo=bar", 400, "BadRequest");
    }

    #[test]
    fn a_plus_in_the_query_is_a_space_so_a_plus_address_must_be_encoded() {
        let mut t = tenant();
        t.users[2].mail = Some("c+hr@contoso.com".into());
        let q = parse_query(Some("$filter=mail eq 'c+hr@contoso.com'")).unwrap();
        assert!(upns(&page(&t, &q, "h", "v1.0")).is_empty());
        let q = parse_query(Some("$filter=mail eq 'c%2Bhr@contoso.com'")).unwrap();
        assert_eq!(
            upns(&page(&t, &q, "h", "v1.0")),
            ["cd@contoso.onmicrosoft.com"]
        );
    }

    #[test]
    fn the_list_path_is_users_alone() {
        assert!(is_list("users") && is_list("Users/") && !is_list("users/x"));
    }
}
