//! Envelope tree (from `xmlin.rs`) → typed message. Decides the version from the root's
//! namespace, enforces the XSDs' required attributes and single required elements with
//! messages fit for a BAD_MESSAGE status, applies the XSD defaults, and ignores unknown
//! elements and attributes. Repeated-element minimums (`Message_Binding+` …) are not
//! enforced: nothing the server does depends on them.

use super::CodecError;
use super::fields::*;
use super::ids::Version;
use super::model::*;
use super::parts::*;
use super::status::{StatusDetails, StatusMessage, StatusType};
use super::xmlin::{self, Element, Failure, Rules};

const MESSAGES_10: &[&str] = &[
    "Status_Message",
    "Discovery_Request",
    "Discovery_Response",
    "Feed_Information_Request",
    "Feed_Information_Response",
    "Subscription_Management_Request",
    "Subscription_Management_Response",
    "Poll_Request",
    "Poll_Response",
    "Inbox_Message",
];

const MESSAGES_11: &[&str] = &[
    "Status_Message",
    "Discovery_Request",
    "Discovery_Response",
    "Collection_Information_Request",
    "Collection_Information_Response",
    "Subscription_Management_Request",
    "Subscription_Management_Response",
    "Poll_Request",
    "Poll_Response",
    "Poll_Fulfillment",
    "Inbox_Message",
];

fn check_root(ns: &str, local: &str) -> Result<(), String> {
    let known = match Version::from_namespace(ns) {
        Some(Version::V10) => MESSAGES_10,
        Some(Version::V11) => MESSAGES_11,
        None => {
            return Err(format!(
                "Root element {local} is in namespace \"{ns}\", not a TAXII 1.0 or 1.1 message namespace"
            ));
        }
    };
    if known.contains(&local) {
        Ok(())
    } else {
        Err(format!("{local} is not a TAXII message of this version"))
    }
}

const RULES: Rules = Rules {
    root: check_root,
    // Elements whose content is any XML or text: kept as bytes, not as tree nodes.
    payload: |local| matches!(local, "Content" | "Query" | "Supported_Query" | "Extended_Header"),
};

/// Parses one TAXII 1.0 or 1.1 message.
pub fn parse(bytes: &[u8]) -> Result<(Version, Message), CodecError> {
    let root = xmlin::read(bytes, &RULES).map_err(from_failure)?;
    let Some(v) = Version::from_namespace(&root.ns) else {
        return Err(CodecError::new("Request is not a TAXII 1.x message"));
    };
    let message_id =
        message_id(&root, v).map_err(|m| CodecError { version: Some(v), ..CodecError::new(m) })?;
    match build(&root, v, &message_id) {
        Ok(m) => Ok((v, m)),
        Err(m) => Err(CodecError { message: m, version: Some(v), message_id: Some(message_id) }),
    }
}

fn from_failure(f: Failure) -> CodecError {
    let mut e = CodecError::new(f.message);
    if let Some(root) = f.root {
        e.version = Version::from_namespace(&root.ns);
        if let Some(v) = e.version {
            e.message_id = message_id(&root, v).ok();
        }
    }
    e
}

/// The 1.0 XSD allows digits only; 1.1 any URI.
fn message_id(root: &Element, v: Version) -> R<String> {
    let id = req_attr(root, "message_id")?;
    if v == Version::V10 && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("TAXII 1.0 message_id must be digits only, got \"{id}\""));
    }
    Ok(id.to_string())
}

fn build(e: &Element, v: Version, id: &str) -> R<Message> {
    let message_id = id.to_string();
    let extended_headers = extended_headers(e)?;
    let simple =
        || SimpleRequest { message_id: message_id.clone(), extended_headers: extended_headers.clone() };
    let irt = || req_attr(e, "in_response_to").map(String::from);
    Ok(match (e.local.as_str(), v) {
        ("Discovery_Request", _) => Message::DiscoveryRequest(simple()),
        ("Collection_Information_Request", _) => Message::CollectionInformationRequest(simple()),
        ("Feed_Information_Request", _) => Message::FeedInformationRequest(simple()),
        ("Discovery_Response", _) => Message::DiscoveryResponse(DiscoveryResponse {
            message_id,
            in_response_to: irt()?,
            extended_headers,
            service_instances: kids(e, "Service_Instance")
                .map(|s| service_instance(s, v))
                .collect::<R<_>>()?,
        }),
        ("Collection_Information_Response", _) => {
            Message::CollectionInformationResponse(CollectionInformationResponse {
                message_id,
                in_response_to: irt()?,
                extended_headers,
                collections: kids(e, "Collection").map(collection).collect::<R<_>>()?,
            })
        }
        ("Feed_Information_Response", _) => Message::FeedInformationResponse(FeedInformationResponse {
            message_id,
            in_response_to: irt()?,
            extended_headers,
            feeds: kids(e, "Feed").map(feed).collect::<R<_>>()?,
        }),
        ("Subscription_Management_Request", Version::V11) => {
            Message::ManageCollectionSubscriptionRequest(ManageCollectionSubscriptionRequest {
                message_id,
                extended_headers,
                action: action(e, v)?,
                collection_name: req_attr(e, "collection_name")?.to_string(),
                subscription_id: opt_token(e, "Subscription_ID"),
                subscription_parameters: kid(e, "Subscription_Parameters").map(sub_params).transpose()?,
                push_parameters: kid(e, "Push_Parameters").map(|p| push_params(p, v)).transpose()?,
            })
        }
        ("Subscription_Management_Request", Version::V10) => {
            Message::ManageFeedSubscriptionRequest(ManageFeedSubscriptionRequest {
                message_id,
                extended_headers,
                action: action(e, v)?,
                feed_name: req_attr(e, "feed_name")?.to_string(),
                subscription_id: attr(e, "subscription_id").map(String::from),
                push_parameters: kid(e, "Push_Parameters").map(|p| push_params(p, v)).transpose()?,
            })
        }
        ("Subscription_Management_Response", Version::V11) => {
            Message::ManageCollectionSubscriptionResponse(ManageCollectionSubscriptionResponse {
                message_id,
                in_response_to: irt()?,
                extended_headers,
                collection_name: req_attr(e, "collection_name")?.to_string(),
                message: opt_text(e, "Message"),
                subscriptions: kids(e, "Subscription").map(subscription).collect::<R<_>>()?,
            })
        }
        ("Subscription_Management_Response", Version::V10) => {
            Message::ManageFeedSubscriptionResponse(ManageFeedSubscriptionResponse {
                message_id,
                in_response_to: irt()?,
                extended_headers,
                feed_name: req_attr(e, "feed_name")?.to_string(),
                message: opt_text(e, "Message"),
                subscriptions: kids(e, "Subscription").map(feed_subscription).collect::<R<_>>()?,
            })
        }
        ("Poll_Request", _) => Message::PollRequest(poll_request(e, v, message_id, extended_headers)?),
        ("Poll_Response", _) => {
            Message::PollResponse(poll_response(e, v, message_id, irt()?, extended_headers)?)
        }
        ("Poll_Fulfillment", _) => Message::PollFulfillment(PollFulfillment {
            message_id,
            extended_headers,
            collection_name: req_attr(e, "collection_name")?.to_string(),
            result_id: req_attr(e, "result_id")?.to_string(),
            result_part_number: part_number(e)?,
        }),
        ("Inbox_Message", _) => Message::InboxMessage(inbox(e, v, message_id, extended_headers)?),
        ("Status_Message", _) => Message::StatusMessage(status(e, v, message_id, irt()?, extended_headers)?),
        (other, _) => return Err(format!("{other} is not a TAXII message of this version")),
    })
}

// ---- shared parts ------------------------------------------------------------------------

fn payload(e: &Element) -> Content {
    match &e.raw {
        Some(xmlin::Raw { element: Some(bytes), .. }) => Content::xml(bytes.clone()),
        Some(xmlin::Raw { element: None, text }) => Content::from_stored(text.clone().into_bytes()),
        None => Content::text(e.text.clone()),
    }
}

fn extended_headers(e: &Element) -> R<Vec<ExtendedHeader>> {
    let Some(hs) = kid(e, "Extended_Headers") else { return Ok(Vec::new()) };
    kids(hs, "Extended_Header")
        .map(|h| Ok(ExtendedHeader { name: req_attr(h, "name")?.to_string(), value: payload(h) }))
        .collect()
}

/// 1.1: `@binding_id` + Subtype*; 1.0: the id as text.
fn binding(e: &Element, v: Version) -> R<ContentBinding> {
    match v {
        Version::V10 => Ok(ContentBinding::new(e.text.trim())),
        Version::V11 => Ok(ContentBinding {
            binding_id: req_attr(e, "binding_id")?.to_string(),
            subtypes: kids(e, "Subtype")
                .map(|s| req_attr(s, "subtype_id").map(String::from))
                .collect::<R<_>>()?,
        }),
    }
}

fn bindings(e: &Element, v: Version) -> R<Vec<ContentBinding>> {
    kids(e, "Content_Binding").map(|b| binding(b, v)).collect()
}

fn contact(e: &Element) -> R<ServiceContact> {
    Ok(ServiceContact {
        protocol_binding: req_token(e, "Protocol_Binding")?,
        address: req_token(e, "Address")?,
        message_bindings: tokens(e, "Message_Binding"),
    })
}

fn contacts(e: &Element, local: &str) -> R<Vec<ServiceContact>> {
    kids(e, local).map(contact).collect()
}

fn push_methods(e: &Element) -> R<Vec<PushMethod>> {
    kids(e, "Push_Method")
        .map(|p| {
            Ok(PushMethod {
                protocol_binding: req_token(p, "Protocol_Binding")?,
                message_bindings: tokens(p, "Message_Binding"),
            })
        })
        .collect()
}

fn push_params(e: &Element, v: Version) -> R<PushParameters> {
    Ok(PushParameters {
        protocol_binding: req_token(e, "Protocol_Binding")?,
        address: req_token(e, "Address")?,
        message_binding: req_token(e, "Message_Binding")?,
        content_bindings: if v == Version::V10 { tokens(e, "Content_Binding") } else { Vec::new() },
    })
}

fn query(e: &Element) -> R<Query> {
    Ok(Query { format_id: req_attr(e, "format_id")?.to_string(), content: payload(e) })
}

fn response_type(e: &Element) -> R<ResponseType> {
    match opt_token(e, "Response_Type") {
        None => Ok(ResponseType::Full),
        Some(t) => ResponseType::from_wire(&t).ok_or_else(|| format!("unknown Response_Type \"{t}\"")),
    }
}

fn sub_params(e: &Element) -> R<SubscriptionParameters> {
    Ok(SubscriptionParameters {
        response_type: response_type(e)?,
        content_bindings: bindings(e, Version::V11)?,
        query: kid(e, "Query").map(query).transpose()?,
    })
}

fn record_count(e: &Element) -> R<Option<RecordCount>> {
    let Some(rc) = kid(e, "Record_Count") else { return Ok(None) };
    Ok(Some(RecordCount {
        count: uint(&rc.text, "Record_Count")?,
        partial: opt_bool_attr(rc, "partial_count")?.unwrap_or(false),
    }))
}

fn part_number(e: &Element) -> R<u64> {
    match attr(e, "result_part_number") {
        None => Ok(1),
        Some(s) => match uint(s, "result_part_number")? {
            0 => Err("result_part_number must be 1 or more".into()),
            n => Ok(n),
        },
    }
}

fn content_block(e: &Element, v: Version) -> R<ContentBlock> {
    let b = binding(req_kid(e, "Content_Binding")?, v)?;
    Ok(ContentBlock {
        content_binding: b,
        content: payload(req_kid(e, "Content")?),
        timestamp_label: opt_timestamp(e, "Timestamp_Label")?,
        message: if v == Version::V11 { opt_text(e, "Message") } else { None },
        padding: opt_text(e, "Padding"),
    })
}

fn content_blocks(e: &Element, v: Version) -> R<Vec<ContentBlock>> {
    kids(e, "Content_Block").map(|b| content_block(b, v)).collect()
}

// ---- messages ----------------------------------------------------------------------------

fn service_instance(e: &Element, v: Version) -> R<ServiceInstance> {
    let st = req_attr(e, "service_type")?;
    Ok(ServiceInstance {
        service_type: ServiceType::from_wire(st).ok_or_else(|| format!("unknown service_type \"{st}\""))?,
        service_version: req_attr(e, "service_version")?.to_string(),
        available: opt_bool_attr(e, "available")?,
        protocol_binding: req_token(e, "Protocol_Binding")?,
        address: req_token(e, "Address")?,
        message_bindings: tokens(e, "Message_Binding"),
        supported_queries: kids(e, "Supported_Query")
            .map(|q| {
                Ok(SupportedQuery { format_id: req_attr(q, "format_id")?.to_string(), info: payload(q) })
            })
            .collect::<R<_>>()?,
        content_bindings: bindings(e, v)?,
        message: opt_text(e, "Message"),
    })
}

fn collection(e: &Element) -> R<CollectionRecord> {
    let collection_type = match attr(e, "collection_type") {
        None => CollectionType::DataFeed,
        Some(t) => CollectionType::from_wire(t).ok_or_else(|| format!("unknown collection_type \"{t}\""))?,
    };
    Ok(CollectionRecord {
        collection_name: req_attr(e, "collection_name")?.to_string(),
        collection_type,
        available: opt_bool_attr(e, "available")?,
        description: req_kid(e, "Description")?.text.clone(),
        collection_volume: kid(e, "Collection_Volume")
            .map(|c| uint(&c.text, "Collection_Volume"))
            .transpose()?,
        content_bindings: bindings(e, Version::V11)?,
        push_methods: push_methods(e)?,
        polling_services: contacts(e, "Polling_Service")?,
        subscription_services: contacts(e, "Subscription_Service")?,
        receiving_inbox_services: kids(e, "Receiving_Inbox_Service")
            .map(|r| {
                let c = contact(r)?;
                Ok(InboxServiceContact {
                    protocol_binding: c.protocol_binding,
                    address: c.address,
                    message_bindings: c.message_bindings,
                    content_bindings: bindings(r, Version::V11)?,
                })
            })
            .collect::<R<_>>()?,
    })
}

fn feed(e: &Element) -> R<FeedRecord> {
    Ok(FeedRecord {
        feed_name: req_attr(e, "feed_name")?.to_string(),
        available: opt_bool_attr(e, "available")?,
        description: req_kid(e, "Description")?.text.clone(),
        content_bindings: tokens(e, "Content_Binding"),
        push_methods: push_methods(e)?,
        polling_services: contacts(e, "Polling_Service")?,
        subscription_services: contacts(e, "Subscription_Service")?,
    })
}

fn action(e: &Element, v: Version) -> R<SubscriptionAction> {
    let a = req_attr(e, "action")?;
    match SubscriptionAction::from_wire(a) {
        Some(SubscriptionAction::Pause | SubscriptionAction::Resume) if v == Version::V10 => {
            Err(format!("action {a} does not exist in TAXII 1.0"))
        }
        Some(action) => Ok(action),
        None => Err(format!("The specified action was invalid: \"{a}\"")),
    }
}

fn subscription(e: &Element) -> R<SubscriptionInstance> {
    let status = match attr(e, "status") {
        None => SubscriptionStatus::Active,
        Some(s) => {
            SubscriptionStatus::from_wire(s).ok_or_else(|| format!("unknown subscription status \"{s}\""))?
        }
    };
    Ok(SubscriptionInstance {
        status,
        subscription_id: req_token(e, "Subscription_ID")?,
        subscription_parameters: kid(e, "Subscription_Parameters")
            .map(sub_params)
            .transpose()?
            .unwrap_or_default(),
        push_parameters: kid(e, "Push_Parameters").map(|p| push_params(p, Version::V11)).transpose()?,
        poll_instances: contacts(e, "Poll_Instance")?,
    })
}

fn feed_subscription(e: &Element) -> R<FeedSubscriptionInstance> {
    Ok(FeedSubscriptionInstance {
        subscription_id: req_attr(e, "subscription_id")?.to_string(),
        push_parameters: kid(e, "Push_Parameters").map(|p| push_params(p, Version::V10)).transpose()?,
        poll_instances: contacts(e, "Poll_Instance")?,
    })
}

fn poll_request(e: &Element, v: Version, message_id: String, eh: Vec<ExtendedHeader>) -> R<PollRequest> {
    let mut req = PollRequest {
        message_id,
        extended_headers: eh,
        exclusive_begin: opt_timestamp(e, "Exclusive_Begin_Timestamp")?,
        inclusive_end: opt_timestamp(e, "Inclusive_End_Timestamp")?,
        ..PollRequest::default()
    };
    match v {
        Version::V10 => {
            req.collection_name = req_attr(e, "feed_name")?.to_string();
            req.subscription_id = attr(e, "subscription_id").map(String::from);
            req.content_bindings = bindings(e, v)?;
        }
        Version::V11 => {
            req.collection_name = req_attr(e, "collection_name")?.to_string();
            req.subscription_id = opt_token(e, "Subscription_ID");
            req.poll_parameters = kid(e, "Poll_Parameters")
                .map(|p| {
                    Ok::<_, String>(PollParameters {
                        allow_asynch: opt_bool_attr(p, "allow_asynch")?.unwrap_or(false),
                        response_type: response_type(p)?,
                        content_bindings: bindings(p, v)?,
                        query: kid(p, "Query").map(query).transpose()?,
                        delivery_parameters: kid(p, "Delivery_Parameters")
                            .map(|d| push_params(d, v))
                            .transpose()?,
                    })
                })
                .transpose()?;
            match (&req.subscription_id, &req.poll_parameters) {
                (None, None) => return Err("Poll_Request needs a Subscription_ID or Poll_Parameters".into()),
                (Some(_), Some(_)) => {
                    return Err(
                        "Poll_Request may carry a Subscription_ID or Poll_Parameters, not both".into()
                    );
                }
                _ => {}
            }
        }
    }
    Ok(req)
}

fn poll_response(
    e: &Element,
    v: Version,
    message_id: String,
    in_response_to: String,
    eh: Vec<ExtendedHeader>,
) -> R<PollResponse> {
    let mut resp = PollResponse {
        message_id,
        in_response_to,
        extended_headers: eh,
        message: opt_text(e, "Message"),
        inclusive_end: opt_timestamp(e, "Inclusive_End_Timestamp")?,
        content_blocks: content_blocks(e, v)?,
        ..PollResponse::default()
    };
    match v {
        Version::V10 => {
            resp.collection_name = req_attr(e, "feed_name")?.to_string();
            resp.subscription_id = attr(e, "subscription_id").map(String::from);
            resp.inclusive_begin = opt_timestamp(e, "Inclusive_Begin_Timestamp")?;
            if resp.inclusive_end.is_none() {
                return Err("Poll_Response is missing the required element Inclusive_End_Timestamp".into());
            }
        }
        Version::V11 => {
            resp.collection_name = req_attr(e, "collection_name")?.to_string();
            resp.more = opt_bool_attr(e, "more")?.unwrap_or(false);
            resp.result_id = attr(e, "result_id").map(String::from);
            resp.result_part_number = part_number(e)?;
            resp.subscription_id = opt_token(e, "Subscription_ID");
            resp.exclusive_begin = opt_timestamp(e, "Exclusive_Begin_Timestamp")?;
            resp.record_count = record_count(e)?;
        }
    }
    Ok(resp)
}

fn inbox(e: &Element, v: Version, message_id: String, eh: Vec<ExtendedHeader>) -> R<InboxMessage> {
    let source_subscription = match kid(e, "Source_Subscription") {
        None => None,
        Some(s) => Some(match v {
            Version::V10 => SourceSubscription {
                collection_name: req_attr(s, "feed_name")?.to_string(),
                subscription_id: attr(s, "subscription_id").map(String::from),
                inclusive_begin: opt_timestamp(s, "Inclusive_Begin_Timestamp")?,
                inclusive_end: Some(timestamp(
                    &req_kid(s, "Inclusive_End_Timestamp")?.text,
                    "Inclusive_End_Timestamp",
                )?),
                ..SourceSubscription::default()
            },
            Version::V11 => SourceSubscription {
                collection_name: req_attr(s, "collection_name")?.to_string(),
                subscription_id: Some(req_token(s, "Subscription_ID")?),
                exclusive_begin: opt_timestamp(s, "Exclusive_Begin_Timestamp")?,
                inclusive_end: opt_timestamp(s, "Inclusive_End_Timestamp")?,
                ..SourceSubscription::default()
            },
        }),
    };
    let v11 = v == Version::V11;
    Ok(InboxMessage {
        message_id,
        extended_headers: eh,
        result_id: if v11 { attr(e, "result_id").map(String::from) } else { None },
        destination_collection_names: if v11 { tokens(e, "Destination_Collection_Name") } else { Vec::new() },
        message: opt_text(e, "Message"),
        source_subscription,
        record_count: if v11 { record_count(e)? } else { None },
        content_blocks: content_blocks(e, v)?,
    })
}

fn status(
    e: &Element,
    v: Version,
    message_id: String,
    in_response_to: String,
    eh: Vec<ExtendedHeader>,
) -> R<StatusMessage> {
    let status_type = StatusType::from_wire(req_attr(e, "status_type")?);
    let details = match (kid(e, "Status_Detail"), v) {
        (None, _) => StatusDetails::default(),
        (Some(d), Version::V10) => StatusDetails::from_10(&status_type, &d.text),
        (Some(d), Version::V11) => details_11(d)?,
    };
    let missing = match status_type {
        StatusType::Pending if v == Version::V11 => {
            details.estimated_wait.is_none() || details.result_id.is_none() || details.will_push.is_none()
        }
        StatusType::InvalidResponsePart if v == Version::V11 => details.max_part_number.is_none(),
        _ => false,
    };
    if missing {
        return Err(format!("status {} is missing a required Status_Detail", status_type.wire()));
    }
    Ok(StatusMessage {
        message_id,
        in_response_to,
        extended_headers: eh,
        status_type,
        details,
        message: opt_text(e, "Message"),
    })
}

fn details_11(e: &Element) -> R<StatusDetails> {
    let mut d = StatusDetails::default();
    for detail in kids(e, "Detail") {
        let name = req_attr(detail, "name")?;
        let value = detail.text.trim().to_string();
        match name {
            "ITEM" if d.item.is_none() => d.item = Some(value),
            "ESTIMATED_WAIT" if d.estimated_wait.is_none() => d.estimated_wait = Some(uint(&value, name)?),
            "RESULT_ID" if d.result_id.is_none() => d.result_id = Some(value),
            "WILL_PUSH" if d.will_push.is_none() => d.will_push = Some(boolean(&value, name)?),
            "MAX_PART_NUMBER" if d.max_part_number.is_none() => d.max_part_number = Some(uint(&value, name)?),
            "SUPPORTED_BINDING" => d.supported_bindings.push(value),
            "SUPPORTED_CONTENT" => d.supported_content.push(ContentBinding::from_text(&value)),
            "SUPPORTED_PROTOCOL" => d.supported_protocols.push(value),
            "SUPPORTED_QUERY" => d.supported_queries.push(value),
            "ACCEPTABLE_DESTINATION" => d.acceptable_destinations.push(value),
            _ => d.other.push((name.to_string(), value)),
        }
    }
    Ok(d)
}
