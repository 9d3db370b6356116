//! Typed message → XML bytes that libtaxii and cabby parse: UTF-8 with an XML declaration,
//! the binding namespace under libtaxii's prefix (`taxii_11:` / `taxii:`), elements in XSD
//! order, timestamps in UTC with six fraction digits and `Z`, booleans `true`/`false`,
//! XML payloads embedded as elements and everything else escaped. Fields the target version
//! cannot carry are left out; the caller picks a message type that exists in the version
//! (see [`Message::supports`]).

use time::OffsetDateTime;

use super::ids::Version;
use super::model::*;
use super::parts::*;
use super::status::StatusMessage;
use super::xmlout::Writer;

type Attrs<'a> = Vec<(&'a str, Option<&'a str>)>;

/// Serialises `msg` as a TAXII `version` message.
pub fn write(version: Version, msg: &Message) -> Vec<u8> {
    let mut w = W { out: Writer::with_capacity(version.prefix(), size_hint(msg)), v: version };
    w.message(msg);
    w.out.finish()
}

/// Roughly the bytes `msg` takes, so that a poll answer of a few hundred KB is written into
/// one allocation instead of a dozen doublings, each copying all that came before.
fn size_hint(msg: &Message) -> usize {
    let blocks = match msg {
        Message::PollResponse(m) => &m.content_blocks,
        Message::InboxMessage(m) => &m.content_blocks,
        _ => return 1024,
    };
    // Markup around each block: binding, timestamp, message and indentation.
    blocks
        .iter()
        .map(|cb| cb.content.bytes.len() + 512 + cb.message.as_ref().map_or(0, |m| m.len()))
        .sum::<usize>()
        + 1024
}

/// A TAXII 1 timestamp on the wire: at most six fraction digits and a zone, as the XSD
/// pattern and libtaxii require.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    crate::timefmt::rfc3339(t)
}

fn b(v: bool) -> &'static str {
    if v { "true" } else { "false" }
}

struct W {
    out: Writer,
    v: Version,
}

impl W {
    fn v11(&self) -> bool {
        self.v == Version::V11
    }

    fn root<'a>(
        &mut self,
        name: &str,
        id: &'a str,
        irt: Option<&'a str>,
        attrs: Attrs<'a>,
        eh: &[ExtendedHeader],
    ) {
        let mut all: Attrs = vec![("message_id", Some(id)), ("in_response_to", irt)];
        all.extend(attrs);
        self.out.open_root(name, self.v.namespace(), &all);
        if !eh.is_empty() {
            self.out.open("Extended_Headers", &[]);
            for h in eh {
                self.out.mixed("Extended_Header", &[("name", Some(&h.name))], h.value.is_xml, &h.value.bytes);
            }
            self.out.close("Extended_Headers");
        }
    }

    fn message(&mut self, msg: &Message) {
        let name = msg.element_name();
        match msg {
            Message::DiscoveryRequest(m)
            | Message::CollectionInformationRequest(m)
            | Message::FeedInformationRequest(m) => {
                self.root(name, &m.message_id, None, vec![], &m.extended_headers);
            }
            Message::DiscoveryResponse(m) => {
                self.root(name, &m.message_id, Some(&m.in_response_to), vec![], &m.extended_headers);
                m.service_instances.iter().for_each(|s| self.service_instance(s));
            }
            Message::CollectionInformationResponse(m) => {
                self.root(name, &m.message_id, Some(&m.in_response_to), vec![], &m.extended_headers);
                m.collections.iter().for_each(|c| self.collection(c));
            }
            Message::FeedInformationResponse(m) => {
                self.root(name, &m.message_id, Some(&m.in_response_to), vec![], &m.extended_headers);
                m.feeds.iter().for_each(|f| self.feed(f));
            }
            Message::ManageCollectionSubscriptionRequest(m) => {
                let attrs = vec![
                    ("collection_name", Some(m.collection_name.as_str())),
                    ("action", Some(m.action.wire())),
                ];
                self.root(name, &m.message_id, None, attrs, &m.extended_headers);
                self.out.opt_text("Subscription_ID", m.subscription_id.as_deref());
                if let Some(p) = &m.subscription_parameters {
                    self.sub_params(p);
                }
                if let Some(p) = &m.push_parameters {
                    self.push_params("Push_Parameters", p);
                }
            }
            Message::ManageFeedSubscriptionRequest(m) => {
                let attrs = vec![
                    ("feed_name", Some(m.feed_name.as_str())),
                    ("action", Some(m.action.wire())),
                    ("subscription_id", m.subscription_id.as_deref()),
                ];
                self.root(name, &m.message_id, None, attrs, &m.extended_headers);
                if let Some(p) = &m.push_parameters {
                    self.push_params("Push_Parameters", p);
                }
            }
            Message::ManageCollectionSubscriptionResponse(m) => {
                let attrs = vec![("collection_name", Some(m.collection_name.as_str()))];
                self.root(name, &m.message_id, Some(&m.in_response_to), attrs, &m.extended_headers);
                self.out.opt_text("Message", m.message.as_deref());
                for s in &m.subscriptions {
                    self.out.open("Subscription", &[("status", Some(s.status.wire()))]);
                    self.out.text("Subscription_ID", &[], &s.subscription_id);
                    self.sub_params(&s.subscription_parameters);
                    if let Some(p) = &s.push_parameters {
                        self.push_params("Push_Parameters", p);
                    }
                    self.contacts("Poll_Instance", &s.poll_instances);
                    self.out.close("Subscription");
                }
            }
            Message::ManageFeedSubscriptionResponse(m) => {
                let attrs = vec![("feed_name", Some(m.feed_name.as_str()))];
                self.root(name, &m.message_id, Some(&m.in_response_to), attrs, &m.extended_headers);
                self.out.opt_text("Message", m.message.as_deref());
                for s in &m.subscriptions {
                    self.out.open("Subscription", &[("subscription_id", Some(&s.subscription_id))]);
                    if let Some(p) = &s.push_parameters {
                        self.push_params("Push_Parameters", p);
                    }
                    self.contacts("Poll_Instance", &s.poll_instances);
                    self.out.close("Subscription");
                }
            }
            Message::PollRequest(m) => self.poll_request(m),
            Message::PollResponse(m) => self.poll_response(m),
            Message::PollFulfillment(m) => {
                let part = m.result_part_number.to_string();
                let attrs = vec![
                    ("collection_name", Some(m.collection_name.as_str())),
                    ("result_id", Some(m.result_id.as_str())),
                    ("result_part_number", Some(part.as_str())),
                ];
                self.root(name, &m.message_id, None, attrs, &m.extended_headers);
            }
            Message::InboxMessage(m) => self.inbox(m),
            Message::StatusMessage(m) => self.status(m),
        }
        self.out.close(name);
    }

    fn timestamp(&mut self, name: &str, t: Option<OffsetDateTime>) {
        if let Some(t) = t {
            self.out.text(name, &[], &format_timestamp(t));
        }
    }

    /// 1.1: `<Content_Binding binding_id=…>` with Subtypes (at most `max_subtypes`);
    /// 1.0: the id as text.
    fn binding(&mut self, cb: &ContentBinding, max_subtypes: usize) {
        if !self.v11() {
            return self.out.text("Content_Binding", &[], &cb.binding_id);
        }
        let attrs = [("binding_id", Some(cb.binding_id.as_str()))];
        self.out.open("Content_Binding", &attrs);
        for s in cb.subtypes.iter().take(max_subtypes) {
            self.out.empty("Subtype", &[("subtype_id", Some(s))]);
        }
        self.out.close("Content_Binding");
    }

    fn bindings(&mut self, cbs: &[ContentBinding]) {
        cbs.iter().for_each(|cb| self.binding(cb, usize::MAX));
    }

    fn texts(&mut self, name: &str, values: &[String]) {
        values.iter().for_each(|v| self.out.text(name, &[], v));
    }

    fn contact_body(&mut self, protocol: &str, address: &str, message_bindings: &[String]) {
        self.out.text("Protocol_Binding", &[], protocol);
        self.out.text("Address", &[], address);
        self.texts("Message_Binding", message_bindings);
    }

    fn contacts(&mut self, name: &str, cs: &[ServiceContact]) {
        for c in cs {
            self.out.open(name, &[]);
            self.contact_body(&c.protocol_binding, &c.address, &c.message_bindings);
            self.out.close(name);
        }
    }

    fn push_methods(&mut self, pms: &[PushMethod]) {
        for p in pms {
            self.out.open("Push_Method", &[]);
            self.out.text("Protocol_Binding", &[], &p.protocol_binding);
            self.texts("Message_Binding", &p.message_bindings);
            self.out.close("Push_Method");
        }
    }

    fn push_params(&mut self, name: &str, p: &PushParameters) {
        self.out.open(name, &[]);
        self.contact_body(&p.protocol_binding, &p.address, std::slice::from_ref(&p.message_binding));
        if !self.v11() {
            self.texts("Content_Binding", &p.content_bindings);
        }
        self.out.close(name);
    }

    fn query(&mut self, q: &Query) {
        self.out.mixed("Query", &[("format_id", Some(&q.format_id))], q.content.is_xml, &q.content.bytes);
    }

    fn sub_params(&mut self, p: &SubscriptionParameters) {
        self.out.open("Subscription_Parameters", &[]);
        self.out.text("Response_Type", &[], p.response_type.wire());
        self.bindings(&p.content_bindings);
        if let Some(q) = &p.query {
            self.query(q);
        }
        self.out.close("Subscription_Parameters");
    }

    fn record_count(&mut self, rc: Option<RecordCount>) {
        if let Some(rc) = rc {
            self.out.text("Record_Count", &[("partial_count", Some(b(rc.partial)))], &rc.count.to_string());
        }
    }

    fn content_blocks(&mut self, blocks: &[ContentBlock]) {
        for cb in blocks {
            self.out.open("Content_Block", &[]);
            // The 1.1 XSD allows a single Subtype inside a block.
            self.binding(&cb.content_binding, 1);
            self.out.mixed("Content", &[], cb.content.is_xml, &cb.content.bytes);
            self.timestamp("Timestamp_Label", cb.timestamp_label);
            if self.v11() {
                self.out.opt_text("Message", cb.message.as_deref());
            }
            self.out.opt_text("Padding", cb.padding.as_deref());
            self.out.close("Content_Block");
        }
    }

    fn service_instance(&mut self, s: &ServiceInstance) {
        let attrs = [
            ("service_type", Some(s.service_type.wire(self.v))),
            ("service_version", Some(s.service_version.as_str())),
            ("available", s.available.map(b)),
        ];
        self.out.open("Service_Instance", &attrs);
        self.contact_body(&s.protocol_binding, &s.address, &s.message_bindings);
        if self.v11() {
            for q in &s.supported_queries {
                let attrs = [("format_id", Some(q.format_id.as_str()))];
                self.out.mixed("Supported_Query", &attrs, q.info.is_xml, &q.info.bytes);
            }
        }
        self.bindings(&s.content_bindings);
        self.out.opt_text("Message", s.message.as_deref());
        self.out.close("Service_Instance");
    }

    fn collection(&mut self, c: &CollectionRecord) {
        let attrs = [
            ("collection_name", Some(c.collection_name.as_str())),
            ("collection_type", Some(c.collection_type.wire())),
            ("available", c.available.map(b)),
        ];
        self.out.open("Collection", &attrs);
        self.out.text("Description", &[], &c.description);
        if let Some(n) = c.collection_volume {
            self.out.text("Collection_Volume", &[], &n.to_string());
        }
        self.bindings(&c.content_bindings);
        self.push_methods(&c.push_methods);
        self.contacts("Polling_Service", &c.polling_services);
        self.contacts("Subscription_Service", &c.subscription_services);
        for r in &c.receiving_inbox_services {
            self.out.open("Receiving_Inbox_Service", &[]);
            self.contact_body(&r.protocol_binding, &r.address, &r.message_bindings);
            self.bindings(&r.content_bindings);
            self.out.close("Receiving_Inbox_Service");
        }
        self.out.close("Collection");
    }

    fn feed(&mut self, f: &FeedRecord) {
        let attrs = [("feed_name", Some(f.feed_name.as_str())), ("available", f.available.map(b))];
        self.out.open("Feed", &attrs);
        self.out.text("Description", &[], &f.description);
        self.texts("Content_Binding", &f.content_bindings);
        self.push_methods(&f.push_methods);
        self.contacts("Polling_Service", &f.polling_services);
        self.contacts("Subscription_Service", &f.subscription_services);
        self.out.close("Feed");
    }

    fn poll_request(&mut self, m: &PollRequest) {
        let attrs = if self.v11() {
            vec![("collection_name", Some(m.collection_name.as_str()))]
        } else {
            vec![
                ("feed_name", Some(m.collection_name.as_str())),
                ("subscription_id", m.subscription_id.as_deref()),
            ]
        };
        self.root("Poll_Request", &m.message_id, None, attrs, &m.extended_headers);
        self.timestamp("Exclusive_Begin_Timestamp", m.exclusive_begin);
        self.timestamp("Inclusive_End_Timestamp", m.inclusive_end);
        if !self.v11() {
            return self.bindings(&m.content_bindings);
        }
        self.out.opt_text("Subscription_ID", m.subscription_id.as_deref());
        if let Some(p) = &m.poll_parameters {
            self.out.open("Poll_Parameters", &[("allow_asynch", Some(b(p.allow_asynch)))]);
            self.out.text("Response_Type", &[], p.response_type.wire());
            self.bindings(&p.content_bindings);
            if let Some(q) = &p.query {
                self.query(q);
            }
            if let Some(d) = &p.delivery_parameters {
                self.push_params("Delivery_Parameters", d);
            }
            self.out.close("Poll_Parameters");
        }
    }

    fn poll_response(&mut self, m: &PollResponse) {
        let part = m.result_part_number.to_string();
        if !self.v11() {
            let attrs = vec![
                ("feed_name", Some(m.collection_name.as_str())),
                ("subscription_id", m.subscription_id.as_deref()),
            ];
            self.root("Poll_Response", &m.message_id, Some(&m.in_response_to), attrs, &m.extended_headers);
            self.out.opt_text("Message", m.message.as_deref());
            self.timestamp("Inclusive_Begin_Timestamp", m.inclusive_begin);
            self.timestamp("Inclusive_End_Timestamp", m.inclusive_end);
            return self.content_blocks(&m.content_blocks);
        }
        let attrs = vec![
            ("collection_name", Some(m.collection_name.as_str())),
            ("more", Some(b(m.more))),
            ("result_id", m.result_id.as_deref()),
            ("result_part_number", Some(part.as_str())),
        ];
        self.root("Poll_Response", &m.message_id, Some(&m.in_response_to), attrs, &m.extended_headers);
        self.out.opt_text("Subscription_ID", m.subscription_id.as_deref());
        self.timestamp("Exclusive_Begin_Timestamp", m.exclusive_begin);
        self.timestamp("Inclusive_End_Timestamp", m.inclusive_end);
        self.record_count(m.record_count);
        self.out.opt_text("Message", m.message.as_deref());
        self.content_blocks(&m.content_blocks);
    }

    fn inbox(&mut self, m: &InboxMessage) {
        let attrs = if self.v11() { vec![("result_id", m.result_id.as_deref())] } else { vec![] };
        self.root("Inbox_Message", &m.message_id, None, attrs, &m.extended_headers);
        if self.v11() {
            self.texts("Destination_Collection_Name", &m.destination_collection_names);
        }
        self.out.opt_text("Message", m.message.as_deref());
        if let Some(s) = &m.source_subscription {
            if self.v11() {
                self.out.open("Source_Subscription", &[("collection_name", Some(&s.collection_name))]);
                self.out.text("Subscription_ID", &[], s.subscription_id.as_deref().unwrap_or_default());
                self.timestamp("Exclusive_Begin_Timestamp", s.exclusive_begin);
            } else {
                let attrs = [
                    ("feed_name", Some(s.collection_name.as_str())),
                    ("subscription_id", s.subscription_id.as_deref()),
                ];
                self.out.open("Source_Subscription", &attrs);
                self.timestamp("Inclusive_Begin_Timestamp", s.inclusive_begin);
            }
            self.timestamp("Inclusive_End_Timestamp", s.inclusive_end);
            self.out.close("Source_Subscription");
        }
        if self.v11() {
            self.record_count(m.record_count);
        }
        self.content_blocks(&m.content_blocks);
    }

    fn status(&mut self, m: &StatusMessage) {
        let attrs = vec![("status_type", Some(m.status_type.wire()))];
        self.root("Status_Message", &m.message_id, Some(&m.in_response_to), attrs, &m.extended_headers);
        if self.v11() {
            let pairs = m.details.pairs();
            if !pairs.is_empty() {
                self.out.open("Status_Detail", &[]);
                for (k, v) in &pairs {
                    self.out.text("Detail", &[("name", Some(k))], v);
                }
                self.out.close("Status_Detail");
            }
        } else {
            self.out.opt_text("Status_Detail", m.details.flatten_10().as_deref());
        }
        self.out.opt_text("Message", m.message.as_deref());
    }
}
