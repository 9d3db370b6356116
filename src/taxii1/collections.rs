//! Discovery (advertised services) and Collection_Information (1.1) / Feed_Information
//! (1.0): what a client learns about services and collections, as OpenTAXII answers it —
//! one entry per protocol binding, absolute addresses, both XML message bindings.

use super::bindings::parse_pairs;
use super::messages::*;
use super::service::{Service, absolute};
use super::{Ctx, Error};
use crate::db::taxii1::{self as q, CollectionRow};

/// Every service accepts both XML bindings.
pub(crate) fn message_bindings() -> Vec<String> {
    vec![MESSAGE_BINDING_XML_10.to_string(), MESSAGE_BINDING_XML_11.to_string()]
}

/// One contact per protocol binding of `service`.
pub(crate) fn contacts(service: &Service, host: &str) -> Vec<ServiceContact> {
    service
        .protocol_bindings
        .iter()
        .map(|pb| ServiceContact {
            protocol_binding: pb.clone(),
            address: absolute(&service.address, pb, host),
            message_bindings: message_bindings(),
        })
        .collect()
}

/// The services in the discovery service's `advertised_services`, in table order;
/// `available` is each service's setting, not the requester's rights (as OpenTAXII).
pub(crate) fn discovery(ctx: &Ctx, request_id: &str) -> Result<Message, Error> {
    let advertised = &ctx.service.advertised_services;
    let mut instances = Vec::new();
    for s in ctx.services.iter().filter(|s| advertised.contains(&s.id)) {
        for c in contacts(s, &ctx.host) {
            instances.push(ServiceInstance {
                service_type: s.kind,
                service_version: ctx.version.services().to_string(),
                available: Some(s.available),
                protocol_binding: c.protocol_binding,
                address: c.address,
                message_bindings: c.message_bindings,
                supported_queries: Vec::new(),
                content_bindings: if s.kind == ServiceType::Inbox { s.inbox_bindings() } else { Vec::new() },
                message: s.description.clone(),
            });
        }
    }
    Ok(Message::DiscoveryResponse(DiscoveryResponse {
        message_id: new_message_id(),
        in_response_to: request_id.to_string(),
        extended_headers: Vec::new(),
        service_instances: instances,
    }))
}

/// A collection's configured bindings; a column OpenTAXII would never write is a server
/// error, not "no bindings".
pub(crate) fn configured(c: &CollectionRow) -> Result<Vec<ContentBinding>, Error> {
    parse_pairs(&c.bindings).map_err(|e| Error::Internal(format!("collection `{}`: {e}", c.name)))
}

pub(crate) fn collection_type(c: &CollectionRow) -> CollectionType {
    CollectionType::from_wire(&c.kind).unwrap_or_default()
}

/// The collections attached to this service that the caller may read, unavailable ones
/// included (as OpenTAXII), each with the services that serve it.
pub(crate) fn information(ctx: &mut Ctx, request_id: &str) -> Result<Message, Error> {
    let visible: Vec<CollectionRow> = q::collections_of(ctx.db, &ctx.service.id)?
        .into_iter()
        .filter(|c| ctx.caller.rights(&c.name).read)
        .collect();
    let ids: Vec<i32> = visible.iter().map(|c| c.id).collect();
    let links = q::links(ctx.db, &ids)?;
    let mut records = Vec::new();
    let mut feeds = Vec::new();
    for c in &visible {
        let attached: Vec<&Service> = ctx
            .services
            .iter()
            .filter(|s| links.iter().any(|(cid, sid)| *cid == c.id && *sid == s.id))
            .collect();
        let of_kind = |kind: ServiceType, cond: &dyn Fn(&Service) -> bool| -> Vec<ServiceContact> {
            attached
                .iter()
                .filter(|s| s.kind == kind && cond(s))
                .flat_map(|s| contacts(s, &ctx.host))
                .collect()
        };
        let polling = of_kind(ServiceType::Poll, &|_| true);
        let subscription = of_kind(ServiceType::CollectionManagement, &|s| s.subscription_supported);
        let bindings = if c.accept_all_content { Vec::new() } else { configured(c)? };
        let description = c.description.clone().unwrap_or_default();
        if ctx.version == Version::V10 {
            feeds.push(FeedRecord {
                feed_name: c.name.clone(),
                available: Some(c.available),
                description,
                content_bindings: bindings.iter().map(|b| b.binding_id.clone()).collect(),
                push_methods: Vec::new(),
                polling_services: polling,
                subscription_services: subscription,
            });
            continue;
        }
        // Inboxes are shown only to callers who may push into the collection.
        let inboxes = if ctx.caller.rights(&c.name).modify {
            attached
                .iter()
                .filter(|s| s.kind == ServiceType::Inbox)
                .flat_map(|s| {
                    contacts(s, &ctx.host).into_iter().map(|k| InboxServiceContact {
                        protocol_binding: k.protocol_binding,
                        address: k.address,
                        message_bindings: k.message_bindings,
                        content_bindings: s.inbox_bindings(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        records.push(CollectionRecord {
            collection_name: c.name.clone(),
            collection_type: collection_type(c),
            available: Some(c.available),
            description,
            collection_volume: Some(c.volume.max(0) as u64),
            content_bindings: bindings,
            push_methods: Vec::new(),
            polling_services: polling,
            subscription_services: subscription,
            receiving_inbox_services: inboxes,
        });
    }
    let (message_id, in_response_to) = (new_message_id(), request_id.to_string());
    Ok(if ctx.version == Version::V10 {
        Message::FeedInformationResponse(FeedInformationResponse {
            message_id,
            in_response_to,
            extended_headers: Vec::new(),
            feeds,
        })
    } else {
        Message::CollectionInformationResponse(CollectionInformationResponse {
            message_id,
            in_response_to,
            extended_headers: Vec::new(),
            collections: records,
        })
    })
}
