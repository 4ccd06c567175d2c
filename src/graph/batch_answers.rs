//! Reading a `$batch` response body field by field, keeping only what the tool uses: each
//! answer's `id`, `status`, `body` and the five headers it reads (`retry-after`, `request-id`,
//! `client-request-id`, `x-ms-throttle-limit-percentage`, `x-ms-throttle-scope`). Everything
//! else is skipped
//! without being built.
//!
//! Parsing the whole body into a `serde_json::Value` first built every header of every answer
//! as a map of strings: a sixth of an engine-bound run's CPU went there. What this reads is
//! exactly what that parse would have given for the fields kept (tests compare the two), and it
//! is as defensive: a value of an unexpected type is kept as "absent" or "not an object", never
//! an error for the whole body, which fails only when it is not JSON.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The headers an answer is read for, lowercase.
const KEPT_HEADERS: [&str; 5] = [
    "retry-after",
    "request-id",
    "client-request-id",
    "x-ms-throttle-limit-percentage",
    "x-ms-throttle-scope",
];

/// The body's `responses`, when it is an object holding an array under that name.
pub(super) struct WireReply {
    pub(super) responses: Option<Vec<WireAnswer>>,
}

/// One element of `responses`.
pub(super) enum WireAnswer {
    /// Not a JSON object.
    NotObject,
    Object(WireFields),
}

/// The fields of one answer object that the tool reads (`None`: absent).
#[derive(Default)]
pub(super) struct WireFields {
    pub(super) id: Option<Value>,
    pub(super) status: Option<Value>,
    pub(super) headers: WireHeaders,
    pub(super) body: Option<Value>,
}

/// The kept headers of an answer, under their names as sent.
#[derive(Default)]
pub(super) struct WireHeaders(Vec<(String, Value)>);

impl WireHeaders {
    /// The header named `name` (case-insensitively). When several spellings are present, the
    /// one first in byte order wins, as it did when headers were read from a sorted map.
    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, v)| v)
    }

    fn insert(&mut self, name: String, value: Value) {
        // A name repeated exactly: the later value wins, as in a JSON object read into a map.
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

/// Implements the visitor methods for JSON's scalars (null, booleans, numbers, strings), all
/// answering `$other`.
macro_rules! scalars_are {
    ($out:ty, $other:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<$out, E> {
            Ok($other)
        }
    };
}

/// Reads an array through and drops it.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// An object's key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for WireReply {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireReply;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a $batch response")
            }
            scalars_are!(WireReply, WireReply { responses: None });
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<WireReply, A::Error> {
                skip_seq(seq)?;
                Ok(WireReply { responses: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireReply, A::Error> {
                let mut responses = None;
                while let Some(Key(key)) = map.next_key()? {
                    if key == "responses" {
                        responses = map.next_value::<Responses>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(WireReply { responses })
            }
        }
        d.deserialize_any(V)
    }
}

/// `responses`' value: the answers when it is an array.
struct Responses(Option<Vec<WireAnswer>>);

impl<'de> Deserialize<'de> for Responses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Responses;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of answers")
            }
            scalars_are!(Responses, Responses(None));
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Responses, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Responses(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Responses, A::Error> {
                let mut all = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(answer) = seq.next_element::<WireAnswer>()? {
                    all.push(answer);
                }
                Ok(Responses(Some(all)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for WireAnswer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireAnswer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an answer")
            }
            scalars_are!(WireAnswer, WireAnswer::NotObject);
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<WireAnswer, A::Error> {
                skip_seq(seq)?;
                Ok(WireAnswer::NotObject)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireAnswer, A::Error> {
                let mut fields = WireFields::default();
                while let Some(Key(key)) = map.next_key()? {
                    match &*key {
                        "id" => fields.id = Some(map.next_value()?),
                        "status" => fields.status = Some(map.next_value()?),
                        "headers" => fields.headers = map.next_value()?,
                        "body" => fields.body = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(WireAnswer::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for WireHeaders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireHeaders;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an answer's headers")
            }
            // Headers that are not an object are no headers.
            scalars_are!(WireHeaders, WireHeaders::default());
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<WireHeaders, A::Error> {
                skip_seq(seq)?;
                Ok(WireHeaders::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireHeaders, A::Error> {
                let mut headers = WireHeaders::default();
                while let Some(Key(name)) = map.next_key()? {
                    if KEPT_HEADERS.iter().any(|k| k.eq_ignore_ascii_case(&name)) {
                        headers.insert(name.into_owned(), map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(headers)
            }
        }
        d.deserialize_any(V)
    }
}
