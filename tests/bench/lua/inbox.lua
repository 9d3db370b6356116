-- TAXII 1.1 Inbox_Message with one ~2 KB STIX 1.1.1 package for collection `bench`.
dofile(os.getenv("BENCH_DIR") .. "/lua/common.lua")
local package = io.open(os.getenv("BENCH_PACKAGE")):read("*a")
bad = 0

function setup(thread)
  table.insert(bench.threads, thread)
end

wrk.method = "POST"
wrk.path = bench.path
wrk.headers["Accept"] = "application/xml"
wrk.headers["Content-Type"] = "application/xml"
wrk.headers["X-TAXII-Content-Type"] = "urn:taxii.mitre.org:message:xml:1.1"
wrk.headers["X-TAXII-Accept"] = "urn:taxii.mitre.org:message:xml:1.1"
wrk.headers["X-TAXII-Services"] = "urn:taxii.mitre.org:services:1.1"
wrk.headers["X-TAXII-Protocol"] = "urn:taxii.mitre.org:protocol:http:1.0"
wrk.headers["Authorization"] = bench.auth()
wrk.body = '<taxii_11:Inbox_Message xmlns:taxii_11="http://taxii.mitre.org/messages/taxii_xml_binding-1.1" ' ..
  'message_id="1"><taxii_11:Destination_Collection_Name>bench</taxii_11:Destination_Collection_Name>' ..
  '<taxii_11:Content_Block><taxii_11:Content_Binding binding_id="urn:stix.mitre.org:xml:1.1.1"/>' ..
  '<taxii_11:Content>' .. package .. '</taxii_11:Content></taxii_11:Content_Block></taxii_11:Inbox_Message>'

function response(status, headers, body)
  if status ~= 200 or not body:find('status_type="SUCCESS"', 1, true) then
    bad = bad + 1
  end
end
