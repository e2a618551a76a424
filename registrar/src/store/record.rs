//! A binding flattened to plain columns, as the SQL and Redis backends keep it.
//!
//! Text fields hold wire forms (the contact and Path entries written unfolded, so none contains a line break);
//! times are milliseconds since the Unix epoch. Reading a record back parses every field again, so a row
//! written by something else is refused as [`Error::Corrupt`] instead of producing a half-valid binding.

use crate::aor::Aor;
use crate::binding::{Binding, BindingKey, Flow, FlowToken, from_unix_millis, unix_millis};
use crate::error::Error;
use bytes::Bytes;
use std::net::SocketAddr;
use tandem_sip_core::header::{Path, QValue};
use tandem_sip_core::{CallId, NameAddr, Transport, TypedHeader};

/// One stored binding.
#[cfg_attr(feature = "sql", derive(sqlx::FromRow))]
#[cfg_attr(feature = "redis", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BindingRecord {
    pub(crate) aor: String,
    pub(crate) binding_key: String,
    pub(crate) contact: String,
    pub(crate) expires_at: i64,
    pub(crate) q: Option<i64>,
    pub(crate) call_id: String,
    pub(crate) cseq: i64,
    pub(crate) instance: Option<String>,
    pub(crate) reg_id: Option<i64>,
    /// Path entries, one per line.
    pub(crate) path: String,
    pub(crate) flow_token: Option<Vec<u8>>,
    pub(crate) flow_transport: Option<String>,
    pub(crate) flow_remote: Option<String>,
    pub(crate) user_agent: Option<String>,
}

impl BindingRecord {
    /// The record of `binding` under `aor`.
    pub(crate) fn new(aor: &Aor, binding: &Binding) -> BindingRecord {
        let path = binding
            .path
            .iter()
            .map(|p| p.0.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        BindingRecord {
            aor: aor.as_str().to_owned(),
            binding_key: binding.key.as_str().to_owned(),
            contact: binding.contact.to_string(),
            expires_at: unix_millis(binding.expires_at),
            q: binding.q.map(|q| i64::from(q.thousandths())),
            call_id: String::from_utf8_lossy(binding.call_id.as_bytes()).into_owned(),
            cseq: i64::from(binding.cseq),
            instance: binding.instance.clone(),
            reg_id: binding.reg_id.map(i64::from),
            path,
            flow_token: binding.flow.as_ref().map(|f| f.token.as_bytes().to_vec()),
            flow_transport: binding
                .flow
                .as_ref()
                .map(|f| String::from_utf8_lossy(f.transport.as_bytes()).into_owned()),
            flow_remote: binding.flow.as_ref().map(|f| f.remote.to_string()),
            user_agent: binding.user_agent.clone(),
        }
    }

    /// The binding this record holds.
    pub(crate) fn into_binding(self) -> Result<Binding, Error> {
        let contact = NameAddr::parse(&Bytes::from(self.contact))
            .map_err(|e| Error::corrupt("contact", e))?;
        let call_id =
            CallId::new(Bytes::from(self.call_id)).map_err(|e| Error::corrupt("Call-ID", e))?;
        let cseq = u32::try_from(self.cseq).map_err(|e| Error::corrupt("CSeq", e))?;
        let mut binding = Binding::new(
            BindingKey::new(self.binding_key),
            contact,
            from_unix_millis(self.expires_at),
            call_id,
            cseq,
        );
        binding.q = match self.q {
            None => None,
            Some(q) => Some(
                u16::try_from(q)
                    .ok()
                    .and_then(QValue::from_thousandths)
                    .ok_or_else(|| Error::corrupt("q", q))?,
            ),
        };
        binding.instance = self.instance;
        binding.reg_id = match self.reg_id {
            None => None,
            Some(r) => Some(u32::try_from(r).map_err(|e| Error::corrupt("reg-id", e))?),
        };
        binding.path = parse_path(&self.path)?;
        binding.flow = flow(self.flow_token, self.flow_transport, self.flow_remote)?;
        binding.user_agent = self.user_agent;
        Ok(binding)
    }
}

fn parse_path(text: &str) -> Result<Vec<Path>, Error> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            Path::parse(&Bytes::copy_from_slice(line.as_bytes()))
                .map_err(|e| Error::corrupt("Path", e))
        })
        .collect()
}

fn flow(
    token: Option<Vec<u8>>,
    transport: Option<String>,
    remote: Option<String>,
) -> Result<Option<Flow>, Error> {
    let (token, transport, remote) = match (token, transport, remote) {
        (None, None, None) => return Ok(None),
        (Some(t), Some(p), Some(r)) => (t, p, r),
        _ => {
            return Err(Error::corrupt(
                "flow",
                "token, transport and remote go together",
            ));
        }
    };
    let remote: SocketAddr = remote
        .parse()
        .map_err(|e| Error::corrupt("flow remote address", e))?;
    Ok(Some(Flow::new(
        FlowToken::new(token),
        Transport::from_token(&Bytes::from(transport)),
        remote,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn sample() -> Binding {
        let contact = NameAddr::parse(&Bytes::from_static(
            b"\"A\" <sip:alice@192.0.2.1;transport=tcp;ob>;+sip.instance=\"<urn:uuid:1>\";reg-id=1;q=0.7",
        ))
        .unwrap();
        let mut b = Binding::new(
            BindingKey::new("<urn:uuid:1>;reg-id=1"),
            contact,
            UNIX_EPOCH + Duration::from_millis(1_700_000_600_123),
            CallId::new(Bytes::from_static(b"abc@host")).unwrap(),
            7,
        );
        b.q = QValue::from_thousandths(700);
        b.instance = Some("<urn:uuid:1>".into());
        b.reg_id = Some(1);
        b.path =
            parse_path("<sip:p1.example.com;lr;ob>\n\"x, y\" <sip:p2.example.com;lr>").unwrap();
        b.flow = Some(Flow::new(
            FlowToken::new(vec![0u8, 255, 10, 13]),
            Transport::Wss,
            "[2001:db8::1]:443".parse().unwrap(),
        ));
        b.user_agent = Some("phone/1".into());
        b
    }

    #[test]
    fn a_binding_survives_its_record() {
        let aor = Aor::parse("sip:alice@example.com").unwrap();
        let b = sample();
        let record = BindingRecord::new(&aor, &b);
        assert_eq!(record.path.lines().count(), 2);
        assert_eq!(record.into_binding().unwrap(), b);
    }

    #[test]
    fn a_record_with_a_broken_field_is_corrupt() {
        let aor = Aor::parse("sip:alice@example.com").unwrap();
        let good = BindingRecord::new(&aor, &sample());
        let broken = [
            BindingRecord {
                contact: "<sip:".into(),
                ..good.clone()
            },
            BindingRecord {
                cseq: -1,
                ..good.clone()
            },
            BindingRecord {
                q: Some(1001),
                ..good.clone()
            },
            BindingRecord {
                flow_remote: None,
                ..good.clone()
            },
            BindingRecord {
                flow_remote: Some("nowhere".into()),
                ..good.clone()
            },
            BindingRecord {
                path: "not a path".into(),
                ..good.clone()
            },
        ];
        for record in broken {
            assert!(matches!(record.into_binding(), Err(Error::Corrupt { .. })));
        }
    }
}
