//! The SOAP side of Salesforce Outbound Messages: reading the `notifications` envelope and
//! writing the acknowledgement or a fault.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::escape::{escape, unescape};
use quick_xml::events::Event;

/// The namespace of Outbound Message envelopes and acknowledgements.
pub const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";

/// One `notifications` envelope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    pub organization_id: String,
    pub action_id: String,
    pub notifications: Vec<Notification>,
}

/// One `Notification`: its id, stable across redeliveries, and the record's selected fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    /// The sObject type from `xsi:type`, without its `sf:` prefix, such as `Case`.
    pub sobject_type: String,
    /// Field name to value; a field sent with `xsi:nil="true"` has an empty value.
    pub fields: BTreeMap<String, String>,
}

impl Notification {
    /// Returns a field's value, or `None` when the message does not carry it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Where the reader is inside the envelope.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Outside,
    Notifications,
    Notification,
    SObject,
}

/// Parses an Outbound Message envelope.
///
/// # Errors
/// A message naming what is wrong: XML that does not parse, or a body without a
/// `notifications` element.
pub fn parse(body: &[u8]) -> Result<Envelope, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8 text".to_owned())?;
    // Text is kept untrimmed: trimming would also cut the spaces next to an entity reference.
    let mut reader = Reader::from_str(text.trim_start_matches('\u{feff}'));

    let mut envelope = Envelope::default();
    let mut found = false;
    let mut place = Place::Outside;
    let mut current = Notification::default();
    let mut value = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("invalid XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => {
                let name = local(start.local_name().as_ref());
                match (place, name.as_str()) {
                    (Place::Outside, "notifications") => {
                        found = true;
                        place = Place::Notifications;
                    }
                    (Place::Notifications, "Notification") => {
                        place = Place::Notification;
                        current = Notification::default();
                    }
                    (Place::Notification, "sObject") => {
                        place = Place::SObject;
                        current.sobject_type = sobject_type(&start)?;
                    }
                    _ => {}
                }
                value.clear();
            }
            Event::Empty(empty) => {
                let name = local(empty.local_name().as_ref());
                if place == Place::SObject {
                    current.fields.insert(name, String::new());
                }
            }
            Event::Text(text) => {
                let decoded = text.decode().map_err(|e| format!("invalid text: {e}"))?;
                value.push_str(&decoded);
            }
            Event::CData(data) => {
                let decoded = data.decode().map_err(|e| format!("invalid CDATA: {e}"))?;
                value.push_str(&decoded);
            }
            Event::GeneralRef(reference) => {
                let name = reference
                    .decode()
                    .map_err(|e| format!("invalid entity reference: {e}"))?;
                let resolved = unescape(&format!("&{name};"))
                    .map_err(|e| format!("unknown entity &{name};: {e}"))?
                    .into_owned();
                value.push_str(&resolved);
            }
            Event::End(end) => {
                let name = local(end.local_name().as_ref());
                match (place, name.as_str()) {
                    (Place::SObject, "sObject") => place = Place::Notification,
                    (Place::SObject, field) => {
                        current.fields.insert(field.to_owned(), value.clone());
                    }
                    (Place::Notification, "Notification") => {
                        envelope.notifications.push(std::mem::take(&mut current));
                        place = Place::Notifications;
                    }
                    (Place::Notification, "Id") => current.id = value.trim().to_owned(),
                    (Place::Notifications, "notifications") => place = Place::Outside,
                    (Place::Notifications, "OrganizationId") => {
                        envelope.organization_id = value.trim().to_owned();
                    }
                    (Place::Notifications, "ActionId") => {
                        envelope.action_id = value.trim().to_owned();
                    }
                    _ => {}
                }
                value.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !found {
        return Err("the SOAP body has no notifications element of an outbound message".to_owned());
    }
    Ok(envelope)
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// Reads `xsi:type="sf:Case"` into `Case`.
fn sobject_type(start: &quick_xml::events::BytesStart<'_>) -> Result<String, String> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| format!("invalid sObject attribute: {e}"))?;
        if attribute.key.local_name().as_ref() == b"type" {
            let value = attribute
                .unescape_value()
                .map_err(|e| format!("invalid sObject type: {e}"))?;
            let name = value.rsplit(':').next().unwrap_or_default();
            return Ok(name.to_owned());
        }
    }
    Err("an sObject element has no xsi:type attribute".to_owned())
}

/// The acknowledgement that tells Salesforce every notification of the request was handled.
pub fn ack() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <soapenv:Body><notificationsResponse xmlns=\"{OUTBOUND_NS}\"><Ack>true</Ack>\
         </notificationsResponse></soapenv:Body></soapenv:Envelope>"
    )
}

/// A SOAP 1.1 fault; `client` says the request was at fault (`soapenv:Client`) rather than
/// the receiver (`soapenv:Server`).
pub fn fault(client: bool, message: &str) -> String {
    let code = if client {
        "soapenv:Client"
    } else {
        "soapenv:Server"
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <soapenv:Body><soapenv:Fault><faultcode>{code}</faultcode>\
         <faultstring>{}</faultstring><detail/></soapenv:Fault></soapenv:Body></soapenv:Envelope>",
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D000000000042AAA</OrganizationId>
   <ActionId>04k000000000042AAA</ActionId>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>500000000000001AAA</sf:Id>
     <sf:Subject>Fish &amp; chips &lt;3</sf:Subject>
     <sf:Description xsi:nil="true"/>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l000000000002AAA</Id>
    <sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>500000000000002AAA</sf:Id>
     <sf:Subject>Line&#xD;
two</sf:Subject>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

    #[test]
    fn envelope_fields_read() {
        let envelope = parse(TWO.as_bytes()).unwrap();
        assert_eq!(envelope.organization_id, "00D000000000042AAA");
        assert_eq!(envelope.action_id, "04k000000000042AAA");
        assert_eq!(envelope.notifications.len(), 2);
        let first = &envelope.notifications[0];
        assert_eq!(first.id, "04l000000000001AAA");
        assert_eq!(first.sobject_type, "Case");
        assert_eq!(first.field("Subject"), Some("Fish & chips <3"));
        assert_eq!(first.field("Description"), Some(""));
        assert_eq!(
            envelope.notifications[1].field("Subject"),
            Some("Line\r\ntwo")
        );
    }

    #[test]
    fn missing_notifications_rejected() {
        let error = parse(b"<a><b/></a>").unwrap_err();
        assert!(error.contains("notifications"), "{error}");
    }

    #[test]
    fn broken_xml_rejected() {
        let error = parse(b"<notifications><OrganizationId>x</Org></notifications>").unwrap_err();
        assert!(error.starts_with("invalid XML"), "{error}");
    }

    #[test]
    fn fault_escapes_message() {
        let body = fault(true, "a <b> & c");
        assert!(
            body.contains("<faultstring>a &lt;b&gt; &amp; c</faultstring>"),
            "{body}"
        );
        assert!(body.contains("soapenv:Client"), "{body}");
    }
}
