//! The gRPC API (`covenant.api.v1.Chain`): the operations of [`Api`], with a server stream
//! for subscriptions. An error's status message starts with its stable code (`CODE: ...`) and
//! the `covenant-error-code` metadata entry carries the code alone.

use std::pin::Pin;

use covenant_api_types::{
    ERROR_CODE_METADATA,
    pb::{
        self, BatchResult, ChainInfoRequest, ChainInfoResponse, ChainSummary, ErrorInfo,
        GetBlockRequest, GetBlockResponse, GetConfigRequest, GetConfigResponse, GetContractRequest,
        GetContractResponse, GetTxRequest, GetTxResponse, HealthRequest, HealthResponse,
        ListChainsRequest, ListChainsResponse, ListContractsRequest, ListContractsResponse,
        MerkleProof, MetricsRequest, MetricsResponse, QueryRequest, QueryResponse,
        SubmitBatchRequest, SubmitBatchResponse, SubmitTxRequest, SubmitTxResponse,
        SubscribeMessage, SubscribeRequest, get_block_request::At,
    },
};
use covenant_crypto::Hash;
use covenant_types::{TxResult, block::DecodedBlock};
use futures::Stream;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, metadata::MetadataValue};

use crate::{
    Api,
    ops::{BlockAt, Failure, FailureKind},
};

/// The largest request the service decodes, and the largest answer it encodes.
const MAX_DECODING: usize = 32 * 1024 * 1024;
const MAX_ENCODING: usize = 512 * 1024 * 1024;

/// The gRPC service over the node's chains.
#[derive(Debug, Clone)]
pub struct ChainService {
    api: Api,
}

impl ChainService {
    pub fn new(api: Api) -> Self {
        ChainService { api }
    }

    /// The tonic server of this service, with message size limits.
    pub fn server(self) -> pb::chain_server::ChainServer<Self> {
        pb::chain_server::ChainServer::new(self)
            .max_decoding_message_size(MAX_DECODING)
            .max_encoding_message_size(MAX_ENCODING)
    }
}

/// The gRPC status of a failure.
pub fn status(f: Failure) -> Status {
    let msg = format!("{}: {}", f.code, f.message);
    let mut s = match f.kind {
        FailureKind::BadRequest
        | FailureKind::TooLarge
        | FailureKind::UnsupportedMediaType
        | FailureKind::MethodNotAllowed
        | FailureKind::UpgradeRequired => Status::invalid_argument(msg),
        FailureKind::Forbidden => Status::permission_denied(msg),
        FailureKind::NotFound => Status::not_found(msg),
        FailureKind::Conflict => Status::already_exists(msg),
        FailureKind::Busy => Status::resource_exhausted(msg),
        FailureKind::Internal => Status::internal(msg),
        FailureKind::Unavailable | FailureKind::Damaged => Status::unavailable(msg),
    };
    if let Ok(v) = MetadataValue::try_from(f.code.as_str()) {
        s.metadata_mut().insert(ERROR_CODE_METADATA, v);
    }
    s
}

fn hash(bytes: &[u8], what: &str) -> Result<Hash, Status> {
    Hash::from_slice(bytes)
        .map_err(|_| status(Failure::bad_request(format!("{what} must be 32 bytes"))))
}

fn error_info(f: &Failure) -> ErrorInfo {
    ErrorInfo {
        code: f.code.clone(),
        message: f.message.clone(),
        retry_after_ms: f.retry_after_ms.unwrap_or(0),
    }
}

#[tonic::async_trait]
impl pb::chain_server::Chain for ChainService {
    async fn health(
        &self,
        _req: Request<HealthRequest>,
    ) -> Result<Response<HealthResponse>, Status> {
        let h = self.api.health();
        Ok(Response::new(HealthResponse {
            node: h.node,
            heights: h.heights.into_iter().collect(),
        }))
    }

    async fn metrics(
        &self,
        _req: Request<MetricsRequest>,
    ) -> Result<Response<MetricsResponse>, Status> {
        Ok(Response::new(MetricsResponse {
            text: self.api.metrics(),
        }))
    }

    async fn list_chains(
        &self,
        _req: Request<ListChainsRequest>,
    ) -> Result<Response<ListChainsResponse>, Status> {
        Ok(Response::new(ListChainsResponse {
            chains: self
                .api
                .list_chains()
                .into_iter()
                .map(|c| ChainSummary {
                    chain_id: c.chain_id,
                    height: c.height,
                    suite: c.suite,
                })
                .collect(),
        }))
    }

    async fn chain_info(
        &self,
        req: Request<ChainInfoRequest>,
    ) -> Result<Response<ChainInfoResponse>, Status> {
        let i = self
            .api
            .chain_info(&req.into_inner().chain_id)
            .map_err(status)?;
        let bytes = |h: &str| hex::decode(h).unwrap_or_default();
        Ok(Response::new(ChainInfoResponse {
            last_hash: bytes(&i.last_hash),
            state_root: bytes(&i.state_root),
            genesis_hash: bytes(&i.genesis_hash),
            engine_json: i.engine.to_string(),
            chain_id: i.chain_id,
            height: i.height,
            suite: i.suite,
            consensus: i.consensus,
            config_version: i.config_version,
            txpool_size: i.txpool_size as u64,
        }))
    }

    async fn get_config(
        &self,
        req: Request<GetConfigRequest>,
    ) -> Result<Response<GetConfigResponse>, Status> {
        let config = self
            .api
            .chain_config(&req.into_inner().chain_id)
            .map_err(status)?;
        Ok(Response::new(GetConfigResponse {
            config: Some((*config).clone()),
        }))
    }

    async fn submit_tx(
        &self,
        req: Request<SubmitTxRequest>,
    ) -> Result<Response<SubmitTxResponse>, Status> {
        let r = req.into_inner();
        let tx = r
            .transaction
            .ok_or_else(|| status(Failure::bad_request("no transaction")))?;
        let timeout = (r.timeout_ms > 0).then_some(r.timeout_ms);
        let wait = Api::wait_of(r.wait, timeout).map_err(status)?;
        let s = self
            .api
            .submit(&r.chain_id, tx.encode_to_vec(), wait)
            .await
            .map_err(status)?;
        Ok(Response::new(match s.committed {
            Some(done) => SubmitTxResponse {
                tx_id: s.tx_id.0.to_vec(),
                status: "committed".into(),
                height: done.height,
                result: Some(done.result),
                index: done.index,
                block_hash: done.block_hash.0.to_vec(),
            },
            None => SubmitTxResponse {
                tx_id: s.tx_id.0.to_vec(),
                status: "pending".into(),
                ..Default::default()
            },
        }))
    }

    async fn submit_batch(
        &self,
        req: Request<SubmitBatchRequest>,
    ) -> Result<Response<SubmitBatchResponse>, Status> {
        let r = req.into_inner();
        let items = r.transactions.into_iter().map(Ok).collect();
        let results = self
            .api
            .submit_batch(&r.chain_id, items)
            .await
            .map_err(status)?
            .into_iter()
            .map(|r| match r {
                Ok(id) => BatchResult {
                    tx_id: id.0.to_vec(),
                    error: None,
                },
                Err(e) => BatchResult {
                    tx_id: vec![],
                    error: Some(error_info(&e)),
                },
            })
            .collect();
        Ok(Response::new(SubmitBatchResponse { results }))
    }

    async fn get_tx(&self, req: Request<GetTxRequest>) -> Result<Response<GetTxResponse>, Status> {
        let r = req.into_inner();
        let id = hash(&r.tx_id, "the tx id")?;
        let found = self.api.get_tx(&r.chain_id, id).await.map_err(status)?;
        let rec = found.record;
        Ok(Response::new(GetTxResponse {
            transaction: rec.transaction,
            result: Some(rec.committed.result),
            height: rec.committed.height,
            index: rec.committed.index,
            block_hash: rec.committed.block_hash.0.to_vec(),
            proof: Some(MerkleProof {
                leaf_index: rec.proof.leaf_index,
                tree_size: rec.proof.tree_size,
                path: rec.proof.path.iter().map(|h| h.0.to_vec()).collect(),
            }),
            tx_root: found.tx_root,
        }))
    }

    async fn query(&self, req: Request<QueryRequest>) -> Result<Response<QueryResponse>, Status> {
        let r = req.into_inner();
        let caller = (!r.caller_certificate.is_empty()).then_some(r.caller_certificate);
        let result = self
            .api
            .query(&r.chain_id, r.contract, r.method, r.args, caller)
            .await
            .map_err(status)?;
        Ok(Response::new(QueryResponse {
            code: result.code,
            message: result.message,
            return_data: result.return_data,
            gas_used: result.gas_used,
            events: result.events,
        }))
    }

    async fn get_block(
        &self,
        req: Request<GetBlockRequest>,
    ) -> Result<Response<GetBlockResponse>, Status> {
        let r = req.into_inner();
        let at = match r.at {
            Some(At::Height(h)) => BlockAt::Height(h),
            Some(At::Hash(h)) => BlockAt::Hash(hash(&h, "the block hash")?),
            None => BlockAt::Latest,
        };
        let block = self.api.get_block(&r.chain_id, at).await.map_err(status)?;
        Ok(Response::new(GetBlockResponse {
            hash: block.hash.0.to_vec(),
            block: Some(block.block),
        }))
    }

    async fn list_contracts(
        &self,
        req: Request<ListContractsRequest>,
    ) -> Result<Response<ListContractsResponse>, Status> {
        let contracts = self
            .api
            .contracts(&req.into_inner().chain_id)
            .await
            .map_err(status)?;
        Ok(Response::new(ListContractsResponse { contracts }))
    }

    async fn get_contract(
        &self,
        req: Request<GetContractRequest>,
    ) -> Result<Response<GetContractResponse>, Status> {
        let r = req.into_inner();
        let contract = self
            .api
            .contract(&r.chain_id, r.name)
            .await
            .map_err(status)?;
        Ok(Response::new(GetContractResponse {
            contract: Some(contract),
        }))
    }

    type SubscribeStream =
        Pin<Box<dyn Stream<Item = Result<SubscribeMessage, Status>> + Send + 'static>>;

    async fn subscribe(
        &self,
        req: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let r = req.into_inner();
        let events = match r.kind.as_str() {
            "" | "blocks" => false,
            "events" => true,
            other => {
                return Err(status(Failure::bad_request(format!(
                    "unknown kind {other:?} (blocks or events)"
                ))));
            }
        };
        let contract = (!r.contract.is_empty()).then_some(r.contract);
        let from = (r.from_height > 0).then_some(r.from_height);
        let mut feed = self.api.follow(&r.chain_id, from).map_err(status)?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Some(b) = feed.recv().await {
                for m in messages(&b.block, events, contract.as_deref()) {
                    if tx.send(Ok(m)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn messages(block: &DecodedBlock, events: bool, contract: Option<&str>) -> Vec<SubscribeMessage> {
    if !events {
        return vec![SubscribeMessage {
            height: block.height(),
            block_hash: block.hash.0.to_vec(),
            block: Some(block.block.clone()),
            tx_id: vec![],
            events: vec![],
        }];
    }
    block
        .block
        .results
        .iter()
        .filter_map(|r| TxResult::decode(r.as_slice()).ok())
        .filter_map(|r| {
            let events: Vec<_> = r
                .events
                .into_iter()
                .filter(|e| contract.is_none_or(|c| c == e.contract))
                .collect();
            (!events.is_empty()).then(|| SubscribeMessage {
                height: block.height(),
                block_hash: block.hash.0.to_vec(),
                block: None,
                tx_id: r.tx_id,
                events,
            })
        })
        .collect()
}
