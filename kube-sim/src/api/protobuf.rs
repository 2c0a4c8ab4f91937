//! Just enough of Kubernetes' protobuf encoding to read what kubectl's typed client sends
//! (`kubectl create configmap|secret|namespace|serviceaccount|service|deployment|token`,
//! `kubectl run`, `kubectl auth can-i`): the `k8s\0` envelope and the fields those generators set. Anything else is a 415.

use serde_json::{Map, Value, json};

/// How a field's value is read.
enum F {
    Str,
    /// An int that Go marshals even when zero (dropped when zero).
    Int,
    /// An optional int (Go pointer): zero is kept.
    IntKeep,
    Bool,
    MapStr,
    MapBytes,
    RepStr,
    Msg(&'static [Field]),
    RepMsg(&'static [Field]),
    IntOrStr,
}

/// (field number, JSON name, kind).
type Field = (u64, &'static str, F);

const OWNER: &[Field] = &[
    (1, "kind", F::Str),
    (3, "name", F::Str),
    (4, "uid", F::Str),
    (5, "apiVersion", F::Str),
    (6, "controller", F::Bool),
    (7, "blockOwnerDeletion", F::Bool),
];
const META: &[Field] = &[
    (1, "name", F::Str),
    (2, "generateName", F::Str),
    (3, "namespace", F::Str),
    (11, "labels", F::MapStr),
    (12, "annotations", F::MapStr),
    (13, "ownerReferences", F::RepMsg(OWNER)),
    (14, "finalizers", F::RepStr),
];
const CONFIGMAP: &[Field] =
    &[(1, "metadata", F::Msg(META)), (2, "data", F::MapStr), (3, "binaryData", F::MapBytes), (4, "immutable", F::Bool)];
const SECRET: &[Field] = &[
    (1, "metadata", F::Msg(META)),
    (2, "data", F::MapBytes),
    (3, "type", F::Str),
    (4, "stringData", F::MapStr),
    (5, "immutable", F::Bool),
];
const NAMESPACE: &[Field] = &[(1, "metadata", F::Msg(META))];
const SERVICEACCOUNT: &[Field] = &[(1, "metadata", F::Msg(META)), (4, "automountServiceAccountToken", F::Bool)];
const SERVICE_PORT: &[Field] = &[
    (1, "name", F::Str),
    (2, "protocol", F::Str),
    (3, "port", F::Int),
    (4, "targetPort", F::IntOrStr),
    (5, "nodePort", F::Int),
    (6, "appProtocol", F::Str),
];
const SERVICE_SPEC: &[Field] = &[
    (1, "ports", F::RepMsg(SERVICE_PORT)),
    (2, "selector", F::MapStr),
    (3, "clusterIP", F::Str),
    (4, "type", F::Str),
    (5, "externalIPs", F::RepStr),
    (7, "sessionAffinity", F::Str),
    (10, "externalName", F::Str),
    (11, "externalTrafficPolicy", F::Str),
    (17, "ipFamilyPolicy", F::Str),
    (18, "clusterIPs", F::RepStr),
    (19, "ipFamilies", F::RepStr),
    (22, "internalTrafficPolicy", F::Str),
];
const SERVICE: &[Field] = &[(1, "metadata", F::Msg(META)), (2, "spec", F::Msg(SERVICE_SPEC))];
const CONTAINER_PORT: &[Field] = &[
    (1, "name", F::Str),
    (2, "hostPort", F::Int),
    (3, "containerPort", F::Int),
    (4, "protocol", F::Str),
    (5, "hostIP", F::Str),
];
const ENV: &[Field] = &[(1, "name", F::Str), (2, "value", F::Str)];
const CONTAINER: &[Field] = &[
    (1, "name", F::Str),
    (2, "image", F::Str),
    (3, "command", F::RepStr),
    (4, "args", F::RepStr),
    (5, "workingDir", F::Str),
    (6, "ports", F::RepMsg(CONTAINER_PORT)),
    (7, "env", F::RepMsg(ENV)),
    (13, "terminationMessagePath", F::Str),
    (14, "imagePullPolicy", F::Str),
    (20, "terminationMessagePolicy", F::Str),
];
const POD_SPEC: &[Field] = &[
    (2, "containers", F::RepMsg(CONTAINER)),
    (3, "restartPolicy", F::Str),
    (4, "terminationGracePeriodSeconds", F::IntKeep),
    (6, "dnsPolicy", F::Str),
    (7, "nodeSelector", F::MapStr),
    (8, "serviceAccountName", F::Str),
    (10, "nodeName", F::Str),
    (19, "schedulerName", F::Str),
    (20, "initContainers", F::RepMsg(CONTAINER)),
];
const POD: &[Field] = &[(1, "metadata", F::Msg(META)), (2, "spec", F::Msg(POD_SPEC))];
const POD_TEMPLATE: &[Field] = &[(1, "metadata", F::Msg(META)), (2, "spec", F::Msg(POD_SPEC))];
const SELECTOR_REQ: &[Field] = &[(1, "key", F::Str), (2, "operator", F::Str), (3, "values", F::RepStr)];
const SELECTOR: &[Field] = &[(1, "matchLabels", F::MapStr), (2, "matchExpressions", F::RepMsg(SELECTOR_REQ))];
const ROLLING: &[Field] = &[(1, "maxUnavailable", F::IntOrStr), (2, "maxSurge", F::IntOrStr)];
const STRATEGY: &[Field] = &[(1, "type", F::Str), (2, "rollingUpdate", F::Msg(ROLLING))];
const DEPLOYMENT_SPEC: &[Field] = &[
    (1, "replicas", F::IntKeep),
    (2, "selector", F::Msg(SELECTOR)),
    (3, "template", F::Msg(POD_TEMPLATE)),
    (4, "strategy", F::Msg(STRATEGY)),
    (5, "minReadySeconds", F::Int),
    (6, "revisionHistoryLimit", F::IntKeep),
    (7, "paused", F::Bool),
    (9, "progressDeadlineSeconds", F::IntKeep),
];
const DEPLOYMENT: &[Field] = &[(1, "metadata", F::Msg(META)), (2, "spec", F::Msg(DEPLOYMENT_SPEC))];
const RESOURCE_ATTRS: &[Field] = &[
    (1, "namespace", F::Str),
    (2, "verb", F::Str),
    (3, "group", F::Str),
    (4, "version", F::Str),
    (5, "resource", F::Str),
    (6, "subresource", F::Str),
    (7, "name", F::Str),
];
const NON_RESOURCE_ATTRS: &[Field] = &[(1, "path", F::Str), (2, "verb", F::Str)];
const SSAR_SPEC: &[Field] =
    &[(1, "resourceAttributes", F::Msg(RESOURCE_ATTRS)), (2, "nonResourceAttributes", F::Msg(NON_RESOURCE_ATTRS))];
const SSAR: &[Field] = &[(1, "metadata", F::Msg(META)), (2, "spec", F::Msg(SSAR_SPEC))];
const SSRR: &[Field] = &[(1, "metadata", F::Msg(META)), (2, "spec", F::Msg(&[(1, "namespace", F::Str)]))];
const TOKEN_REQUEST_SPEC: &[Field] = &[(1, "audiences", F::RepStr), (4, "expirationSeconds", F::IntKeep)];
const TOKEN_REQUEST: &[Field] = &[(1, "metadata", F::Msg(META)), (2, "spec", F::Msg(TOKEN_REQUEST_SPEC))];
const TYPE_META: &[Field] = &[(1, "apiVersion", F::Str), (2, "kind", F::Str)];

fn schema(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    Some(match (api_version, kind) {
        ("v1", "ConfigMap") => CONFIGMAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICEACCOUNT,
        ("v1", "Service") => SERVICE,
        ("v1", "Pod") => POD,
        ("apps/v1", "Deployment") => DEPLOYMENT,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => SSAR,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => SSRR,
        ("authentication.k8s.io/v1", "TokenRequest") => TOKEN_REQUEST,
        _ => return None,
    })
}

/// One raw protobuf field.
enum Raw<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn fields(mut buf: &[u8]) -> Option<Vec<(u64, Raw<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let tag = varint(&mut buf)?;
        let raw = match tag & 7 {
            0 => Raw::Varint(varint(&mut buf)?),
            1 => {
                buf = buf.get(8..)?;
                continue;
            }
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                let (data, rest) = (buf.get(..len)?, buf.get(len..)?);
                buf = rest;
                Raw::Bytes(data)
            }
            5 => {
                buf = buf.get(4..)?;
                continue;
            }
            _ => return None,
        };
        out.push((tag >> 3, raw));
    }
    Some(out)
}

fn text(b: &[u8]) -> Option<Value> {
    Some(Value::String(String::from_utf8(b.to_vec()).ok()?))
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn map_entry(b: &[u8], bytes: bool) -> Option<(String, Value)> {
    let (mut k, mut v) = (String::new(), json!(""));
    for (n, raw) in fields(b)? {
        if let Raw::Bytes(d) = raw {
            match n {
                1 => k = String::from_utf8(d.to_vec()).ok()?,
                2 if bytes => v = json!(base64(d)),
                2 => v = text(d)?,
                _ => {}
            }
        }
    }
    Some((k, v))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn message(buf: &[u8], schema: &[Field]) -> Option<Value> {
    let mut obj = Map::new();
    for (n, raw) in fields(buf)? {
        let Some((_, name, kind)) = schema.iter().find(|(num, _, _)| *num == n) else { continue };
        let name = (*name).to_string();
        match (kind, raw) {
            (F::Str, Raw::Bytes(b)) => {
                obj.insert(name, text(b)?);
            }
            (F::Int, Raw::Varint(v)) => {
                if v != 0 {
                    obj.insert(name, json!(v as i64));
                }
            }
            (F::IntKeep, Raw::Varint(v)) => {
                obj.insert(name, json!(v as i64));
            }
            (F::Bool, Raw::Varint(v)) => {
                obj.insert(name, json!(v != 0));
            }
            (F::MapStr | F::MapBytes, Raw::Bytes(b)) => {
                let (k, v) = map_entry(b, matches!(kind, F::MapBytes))?;
                obj.entry(name).or_insert_with(|| json!({}))[k] = v;
            }
            (F::RepStr, Raw::Bytes(b)) => {
                let list = obj.entry(name).or_insert_with(|| json!([]));
                list.as_array_mut()?.push(text(b)?);
            }
            (F::Msg(s), Raw::Bytes(b)) => {
                obj.insert(name, message(b, s)?);
            }
            (F::RepMsg(s), Raw::Bytes(b)) => {
                let item = message(b, s)?;
                let list = obj.entry(name).or_insert_with(|| json!([]));
                list.as_array_mut()?.push(item);
            }
            (F::IntOrStr, Raw::Bytes(b)) => {
                let (mut ty, mut int, mut s) = (0, 0i64, String::new());
                for (n, raw) in fields(b)? {
                    match (n, raw) {
                        (1, Raw::Varint(v)) => ty = v,
                        (2, Raw::Varint(v)) => int = v as i64,
                        (3, Raw::Bytes(d)) => s = String::from_utf8(d.to_vec()).ok()?,
                        _ => {}
                    }
                }
                let v = if ty == 1 { json!(s) } else { json!(int) };
                if v != json!(0) && v != json!("") {
                    obj.insert(name, v);
                }
            }
            _ => return None,
        }
    }
    obj.retain(|k, v| !is_empty(v) || k == "data" || k == "stringData");
    Some(Value::Object(obj))
}

/// Decodes a `k8s\0`-enveloped protobuf object into its JSON shape, or None when the kind is
/// one kube-sim does not read (the caller answers 415).
pub fn decode(body: &[u8]) -> Option<Value> {
    let inner = body.strip_prefix(b"k8s\0")?;
    let (mut type_meta, mut raw) = (None, None);
    for (n, f) in fields(inner)? {
        match (n, f) {
            (1, Raw::Bytes(b)) => type_meta = Some(message(b, TYPE_META)?),
            (2, Raw::Bytes(b)) => raw = Some(b),
            _ => {}
        }
    }
    let tm = type_meta?;
    let (api_version, kind) = (tm["apiVersion"].as_str()?, tm["kind"].as_str()?);
    let mut obj = message(raw?, schema(api_version, kind)?)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Some(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, data: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3 | 2) as u8, data.len() as u8];
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn decodes_a_configmap_envelope() {
        let meta = [field(1, b"c1"), field(3, b"ns"), field(2, b"")].concat();
        let entry = [field(1, b"a"), field(2, b"b")].concat();
        let cm = [field(1, &meta), field(2, &entry)].concat();
        let tm = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [b"k8s\0".to_vec(), field(1, &tm), field(2, &cm)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": "ns"}, "data": {"a": "b"}})
        );
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert!(decode(b"{}").is_none());
    }
}
