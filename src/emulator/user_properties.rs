//! What `GET /users/{key}` returns (docs/graph.md §9.1): Graph's default property set when no
//! `$select` is given, exactly the named properties when it is, `400` for a property the user
//! type does not have, and the read permission each selection needs. v1.0's default set is
//! documented; beta's is not, so beta gets the same strict set (docs/tenant-format.md).

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::graph_error::GraphError;
use super::tenant::User;
use super::token::TokenInfo;

/// The user properties the emulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Property {
    BusinessPhones,
    DisplayName,
    GivenName,
    Id,
    JobTitle,
    Mail,
    MobilePhone,
    OfficeLocation,
    PreferredLanguage,
    Surname,
    UserPrincipalName,
    UserType,
    AccountEnabled,
    ProxyAddresses,
}

const ALL: [Property; 14] = [
    Property::BusinessPhones,
    Property::DisplayName,
    Property::GivenName,
    Property::Id,
    Property::JobTitle,
    Property::Mail,
    Property::MobilePhone,
    Property::OfficeLocation,
    Property::PreferredLanguage,
    Property::Surname,
    Property::UserPrincipalName,
    Property::UserType,
    Property::AccountEnabled,
    Property::ProxyAddresses,
];

/// v1.0's default set (docs/graph.md §9.1); `userType`, `accountEnabled` and `proxyAddresses`
/// are "Returned only on `$select`".
const DEFAULT_SET: [Property; 11] = [
    Property::BusinessPhones,
    Property::DisplayName,
    Property::GivenName,
    Property::Id,
    Property::JobTitle,
    Property::Mail,
    Property::MobilePhone,
    Property::OfficeLocation,
    Property::PreferredLanguage,
    Property::Surname,
    Property::UserPrincipalName,
];

/// Permissions that read every user property (docs/graph.md §9.1).
pub(crate) const USER_READ_ALL: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Reads the basic profile only (docs/graph.md §9.1).
const USER_READ_BASIC: &str = "User.ReadBasic.All";

impl Property {
    /// Graph's name for the property.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Property::BusinessPhones => "businessPhones",
            Property::DisplayName => "displayName",
            Property::GivenName => "givenName",
            Property::Id => "id",
            Property::JobTitle => "jobTitle",
            Property::Mail => "mail",
            Property::MobilePhone => "mobilePhone",
            Property::OfficeLocation => "officeLocation",
            Property::PreferredLanguage => "preferredLanguage",
            Property::Surname => "surname",
            Property::UserPrincipalName => "userPrincipalName",
            Property::UserType => "userType",
            Property::AccountEnabled => "accountEnabled",
            Property::ProxyAddresses => "proxyAddresses",
        }
    }

    /// Graph matches `$select` names case-insensitively.
    pub(crate) fn parse(name: &str) -> Option<Property> {
        ALL.into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The basic profile User.ReadBasic.All reads: displayName, givenName, mail, surname,
    /// userPrincipalName (docs/graph.md §9.1), and the object id that names the user.
    fn basic(self) -> bool {
        matches!(
            self,
            Property::Id
                | Property::DisplayName
                | Property::GivenName
                | Property::Mail
                | Property::Surname
                | Property::UserPrincipalName
        )
    }

    fn value(self, u: &User) -> Value {
        match self {
            Property::BusinessPhones => json!([]),
            Property::DisplayName => json!(u.display_name),
            Property::GivenName
            | Property::JobTitle
            | Property::MobilePhone
            | Property::OfficeLocation
            | Property::PreferredLanguage
            | Property::Surname => Value::Null,
            Property::Id => json!(u.id),
            Property::Mail => json!(u.mail),
            Property::UserPrincipalName => json!(u.upn),
            Property::UserType => json!(u.user_type),
            Property::AccountEnabled => json!(u.account_enabled),
            Property::ProxyAddresses => json!(u.proxy_addresses),
        }
    }
}

/// The properties one request asks for: `None` = the default set.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Selection(Option<Vec<Property>>);

impl Selection {
    /// Reads the query of `GET /users/{key}`: `$select` only. Another query option is refused
    /// rather than ignored, so a client relying on it hears about it.
    pub(crate) fn from_query(query: Option<&str>) -> Result<Selection, GraphError> {
        let mut selected: Option<Vec<Property>> = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name)?;
            let value = decode(value)?;
            if !name.eq_ignore_ascii_case("$select") {
                return Err(GraphError::new(
                    400,
                    "BadRequest",
                    format!("Query option '{name}' is not supported on a single user here."),
                ));
            }
            if selected.is_some() {
                return Err(GraphError::new(
                    400,
                    "BadRequest",
                    "Query option '$select' was specified more than once.",
                ));
            }
            selected = Selection::from_select(&value)?.0;
        }
        Ok(Selection(selected))
    }

    /// Reads the decoded value of one `$select` option (`GET /users` reads its own query).
    pub(crate) fn from_select(value: &str) -> Result<Selection, GraphError> {
        let mut props = Vec::new();
        for item in value.split(',') {
            let item = item.trim();
            let prop = Property::parse(item).ok_or_else(|| unknown_property(item))?;
            if !props.contains(&prop) {
                props.push(prop);
            }
        }
        Ok(Selection(Some(props)))
    }

    /// The names `$select` gave, in order (`None`: the default set).
    pub(crate) fn names(&self) -> Option<Vec<&'static str>> {
        self.0
            .as_ref()
            .map(|props| props.iter().map(|p| p.name()).collect())
    }

    /// The user's selected properties alone, as one item of a list shows them.
    pub(crate) fn properties_json(&self, u: &User) -> Value {
        let mut out = Map::new();
        for p in self.properties() {
            out.insert(p.name().into(), p.value(u));
        }
        Value::Object(out)
    }

    fn properties(&self) -> &[Property] {
        self.0.as_deref().unwrap_or(&DEFAULT_SET)
    }

    /// Whether `token` may read these properties: a full user-read permission, or
    /// User.ReadBasic.All when every property is basic.
    pub(crate) fn permitted(&self, token: &TokenInfo) -> bool {
        token.has_any(USER_READ_ALL)
            || (token.has_any(&[USER_READ_BASIC]) && self.properties().iter().all(|p| p.basic()))
    }

    /// The user as Graph answers it: `@odata.context`, then the properties in the order named.
    pub(crate) fn user_json(&self, u: &User, version: &str) -> Value {
        let context = match &self.0 {
            None => format!("https://graph.microsoft.com/{version}/$metadata#users/$entity"),
            Some(props) => format!(
                "https://graph.microsoft.com/{version}/$metadata#users({})/$entity",
                props.iter().map(|p| p.name()).collect::<Vec<_>>().join(",")
            ),
        };
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(context));
        for p in self.properties() {
            out.insert(p.name().into(), p.value(u));
        }
        Value::Object(out)
    }
}

fn decode(text: &str) -> Result<String, GraphError> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| GraphError::bad_request("The query is not valid UTF-8 once decoded."))
}

/// Graph's answer to `$select` naming a property the user type lacks.
fn unknown_property(name: &str) -> GraphError {
    GraphError::new(
        400,
        "BadRequest",
        format!(
            "Parsing OData Select and Expand failed: Could not find a property named '{name}' on type 'microsoft.graph.user'."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(q: &str) -> Result<Vec<&'static str>, u16> {
        Selection::from_query(Some(q))
            .map(|s| s.properties().iter().map(|p| p.name()).collect())
            .map_err(|e| e.status)
    }

    #[test]
    fn select_names_exactly_what_it_returns_case_insensitively() {
        assert_eq!(
            sel("$select=ID,userPrincipalName,usertype"),
            Ok(vec!["id", "userPrincipalName", "userType"])
        );
        assert_eq!(sel("%24select=mail"), Ok(vec!["mail"]));
        assert_eq!(sel("$select=id,%20mail"), Ok(vec!["id", "mail"]));
    }

    #[test]
    fn unknown_properties_empty_names_and_other_options_are_400() {
        assert_eq!(sel("$select=id,favouriteColour"), Err(400));
        assert_eq!(sel("$select="), Err(400));
        assert_eq!(sel("$select=id,"), Err(400));
        assert_eq!(sel("$expand=manager"), Err(400));
        assert_eq!(sel("$select=id&$select=mail"), Err(400));
    }

    #[test]
    fn no_select_is_the_v1_default_set_without_user_type() {
        let s = Selection::from_query(None).unwrap();
        let names: Vec<&str> = s.properties().iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), 11);
        assert!(!names.contains(&"userType"));
        assert!(!names.contains(&"accountEnabled"));
        assert!(names.contains(&"mail"));
    }
}
