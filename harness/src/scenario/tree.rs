//! A YAML document as a tree of located nodes, so that any check can point at the line and column of what it found.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node starts in its file: 1-based line and column, and the byte range for a diagnostic label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Place {
    pub line: u64,
    pub column: u64,
    pub offset: usize,
    pub len: usize,
}

impl Place {
    fn of(location: &serde_saphyr::Location) -> Place {
        let span = location.span();
        Place {
            line: location.line(),
            column: location.column(),
            offset: span.byte_offset().unwrap_or(span.offset()) as usize,
            len: span.byte_len().unwrap_or(span.len()) as usize,
        }
    }
}

/// One node of a YAML document with the place it was written.
#[derive(Debug, Clone)]
pub struct Node {
    pub place: Place,
    pub kind: Kind,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub enum Kind {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    Scalar(String),
    Null,
}

impl Node {
    /// The child at `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, Kind::Scalar(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node of `key` in a mapping (to point at a name rather than its value).
    pub fn key(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, Kind::Scalar(s) if s == key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    /// The element `index` of a sequence.
    pub fn at(&self, index: usize) -> Option<&Node> {
        match &self.kind {
            Kind::Seq(items) => items.get(index),
            _ => None,
        }
    }

    /// Follows `path` as far as it exists and returns the deepest node reached: the best place to point at.
    /// A segment that parses as a number indexes a sequence; `@key` points at a mapping key instead of its value.
    pub fn locate<'a>(&'a self, path: &[&str]) -> &'a Node {
        let mut node = self;
        for segment in path {
            let next = if let Some(key) = segment.strip_prefix('@') {
                node.key(key)
            } else if let Ok(index) = segment.parse::<usize>() {
                node.at(index).or_else(|| node.get(segment))
            } else {
                node.get(segment)
            };
            match next {
                Some(next) => node = next,
                None => break,
            }
        }
        node
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(deserializer)?;
        Ok(Node {
            place: Place::of(&spanned.referenced),
            kind: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Kind, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Scalar(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Node, Node>()? {
            entries.push((key, value));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_knows_its_line_and_column() {
        let yaml = "a:\n  b: [1, two]\n  c:\n    - d: x\n";
        let root: Node = serde_saphyr::from_str(yaml).unwrap();
        let two = root.locate(&["a", "b", "1"]);
        assert!(matches!(&two.kind, Kind::Scalar(s) if s == "two"));
        assert_eq!((two.place.line, two.place.column), (2, 10));
        let d = root.locate(&["a", "c", "0", "d"]);
        assert_eq!((d.place.line, d.place.column), (4, 10));
        let key = root.locate(&["a", "@c"]);
        assert_eq!((key.place.line, key.place.column), (3, 3));
        // A path that leaves the tree stops at the deepest node that exists.
        let missing = root.locate(&["a", "c", "0", "nope", "deeper"]);
        assert_eq!((missing.place.line, missing.place.column), (4, 7));
    }
}
