//! Label and field selectors, parsed from the query string as a real API server reads them.

use serde_json::Value;

use crate::store::ApiError;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<LabelReq>);

/// Splits on commas outside parentheses (`a in (x,y),b` has two requirements).
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn set_values(s: &str, raw: &str) -> Result<Vec<String>, ApiError> {
    let inner =
        s.trim().strip_prefix('(').and_then(|r| r.strip_suffix(')')).ok_or_else(|| {
            ApiError::bad_request(format!("unable to parse requirement: found '{raw}', expected: '('"))
        })?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

impl LabelSelector {
    /// Parses `app=x,tier!=db,env in (a,b),!legacy,owner`.
    ///
    /// # Errors
    /// `BadRequest` when a requirement cannot be read.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let req = if let Some(key) = part.strip_prefix('!') {
                LabelReq::NotExists(key.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelReq::NotEq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                LabelReq::NotIn(k.trim().to_string(), set_values(rest, part)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                LabelReq::In(k.trim().to_string(), set_values(rest, part)?)
            } else if part.contains(char::is_whitespace) || part.contains('(') {
                return Err(ApiError::bad_request(format!("unable to parse requirement: {part}")));
            } else {
                LabelReq::Exists(part.to_string())
            };
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// The selector a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`) means.
    pub fn from_object(sel: &Value) -> Self {
        let mut reqs = Vec::new();
        if let Some(m) = sel["matchLabels"].as_object() {
            for (k, v) in m {
                reqs.push(LabelReq::Eq(k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
        for e in sel["matchExpressions"].as_array().into_iter().flatten() {
            let key = e["key"].as_str().unwrap_or_default().to_string();
            let values: Vec<String> =
                e["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
            reqs.push(match e["operator"].as_str().unwrap_or_default() {
                "In" => LabelReq::In(key, values),
                "NotIn" => LabelReq::NotIn(key, values),
                "DoesNotExist" => LabelReq::NotExists(key),
                _ => LabelReq::Exists(key),
            });
        }
        LabelSelector(reqs)
    }

    /// Whether the selector selects nothing in particular (matches everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object with these labels (a JSON map or null) is selected.
    pub fn matches(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

impl std::fmt::Display for LabelSelector {
    /// The string form kubectl and `Scale.status.selector` use (`app=x,env in (a,b)`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| match r {
                LabelReq::Eq(k, v) => format!("{k}={v}"),
                LabelReq::NotEq(k, v) => format!("{k}!={v}"),
                LabelReq::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                LabelReq::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                LabelReq::Exists(k) => k.clone(),
                LabelReq::NotExists(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// A parsed `fieldSelector`: `field=value`, `field==value`, `field!=value`, comma-separated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `metadata.name=x,involvedObject.kind=Deployment,status.phase!=Running`.
    ///
    /// # Errors
    /// `BadRequest` when a term has no operator.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!("invalid selector: '{s}'; can't understand '{part}'")));
            };
            terms.push((field.trim().to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    /// Whether the object is selected. Fields are dotted paths into the object; a missing
    /// field reads as "" (so `spec.nodeName=` selects unscheduled pods, as on a real server).
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, value)| {
            let mut v = obj;
            for seg in field.split('.') {
                v = &v[seg];
            }
            let actual = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *value) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels() -> Value {
        json!({"app": "web", "tier": "front", "env": "prod"})
    }

    #[test]
    fn every_label_operator() {
        let yes = ["app=web", "app==web", "tier!=db", "env in (prod,dev)", "env notin (dev)", "app", "!legacy"];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&labels()), "{s} should match");
        }
        let no = ["app=db", "tier!=front", "env in (dev, qa)", "env notin (prod)", "legacy", "!app"];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&labels()), "{s} should not match");
        }
        let both = LabelSelector::parse("app=web,env in (qa,prod),!legacy").unwrap();
        assert!(both.matches(&labels()));
        assert!(!both.matches(&json!({"app": "web"})));
        assert!(LabelSelector::parse("").unwrap().matches(&Value::Null));
    }

    #[test]
    fn bad_label_selector_is_a_bad_request() {
        let err = LabelSelector::parse("env in prod").unwrap_err();
        assert_eq!(err.code, 400);
    }

    #[test]
    fn selector_object_renders_as_kubectl_writes_it() {
        let sel = LabelSelector::from_object(&json!({"matchLabels": {"app": "web", "a": "b"}}));
        assert_eq!(sel.to_string(), "a=b,app=web");
        assert!(!sel.matches(&json!({"app": "web"})));
    }

    #[test]
    fn field_selectors_on_nested_fields() {
        let ev = json!({"metadata": {"name": "e1", "namespace": "ns"}, "reason": "BackOff", "type": "Warning",
            "involvedObject": {"kind": "Pod", "name": "p", "uid": "u1"}});
        let sel = FieldSelector::parse("involvedObject.kind=Pod,involvedObject.name=p,reason=BackOff").unwrap();
        assert!(sel.matches(&ev));
        assert!(!FieldSelector::parse("type!=Warning").unwrap().matches(&ev));
        assert!(FieldSelector::parse("metadata.namespace==ns").unwrap().matches(&ev));
        let pod = json!({"spec": {}, "status": {"phase": "Running"}});
        assert!(FieldSelector::parse("spec.nodeName=,status.phase=Running").unwrap().matches(&pod));
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
