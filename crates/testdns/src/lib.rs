//! A real authoritative DNS server for tests: hickory-server's `Server` with in-memory zones
//! parsed from zone-file text, bound to 127.0.0.1 (UDP and TCP on one port). Used by the CAA
//! crate's tests and the end-to-end detector scenario.
//!
//! A thin request handler in front of the catalog logs every query (name, protocol) and
//! injects faults by name: names under `servfail.test` get SERVFAIL and names under
//! `blackhole.test` get no answer at all.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_server::proto::rr::LowerName;
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};

/// One logged query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The query name, lower-case, without the trailing dot.
    pub name: String,
    /// Whether it came over TCP.
    pub tcp: bool,
}

/// The request handler: logs queries, injects faults, answers from the catalog.
#[allow(missing_debug_implementations)]
pub struct Handler {
    catalog: Catalog,
    log: Arc<Mutex<Vec<Logged>>>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let name = match request.request_info() {
            Ok(info) => info.query.name().to_string().trim_end_matches('.').to_ascii_lowercase(),
            Err(_) => String::new(),
        };
        self.log.lock().unwrap().push(Logged { name: name.clone(), tcp: request.protocol() == Protocol::Tcp });
        if name == "blackhole.test" || name.ends_with(".blackhole.test") {
            // Never answer: the client must time out.
            let mut metadata = Metadata::new(request.metadata.id, MessageType::Response, request.metadata.op_code);
            metadata.response_code = ResponseCode::ServFail;
            return ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() });
        }
        if name == "servfail.test" || name.ends_with(".servfail.test") {
            let msg = MessageResponseBuilder::new(&request.queries, None)
                .error_msg(&request.metadata, ResponseCode::ServFail);
            return match response.send_response(msg).await {
                Ok(info) => info,
                Err(e) => panic!("sending SERVFAIL failed: {e}"),
            };
        }
        self.catalog.handle_request::<R, T>(request, response).await
    }
}

/// A running test server; dropping it stops the server.
#[allow(missing_debug_implementations)]
pub struct TestDns {
    /// The address serving UDP and TCP.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Logged>>>,
    _server: Server<Handler>,
}

impl TestDns {
    /// Starts a server authoritative for the given zones (zone-file text with `$ORIGIN`).
    pub async fn start(zones: &[&str]) -> TestDns {
        let mut catalog = Catalog::new();
        for text in zones {
            let (origin, records) = Parser::new(*text, None, None).parse().expect("test zone parses");
            let records: BTreeMap<_, _> = records;
            let zone = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
                origin.clone(),
                records,
                ZoneType::Primary,
                AxfrPolicy::Deny,
            )
            .expect("test zone loads");
            catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server::new(Handler { catalog, log: log.clone() });
        // Bind UDP on an ephemeral port, then TCP on the same port (retrying if it is taken).
        let (udp, tcp) = loop {
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
            let addr = udp.local_addr().expect("UDP address");
            if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().expect("UDP address");
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 65_535);
        TestDns { addr, log, _server: server }
    }

    /// Every query received so far.
    pub fn queries(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// The number of queries received so far.
    pub fn query_count(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}
