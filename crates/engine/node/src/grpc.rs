//! The gRPC API (`covenant.v1.Chain`): the same operations as REST, with a server stream for
//! subscriptions. Errors carry the stable code as the status message's prefix (`CODE: ...`).

use std::{pin::Pin, sync::Arc, time::Duration};

use covenant_chain::{Chain, TxError};
use covenant_crypto::Hash;
use covenant_types::{
    TxResult,
    pb::{
        self, ChainInfoRequest, ChainInfoResponse, GetBlockRequest, GetBlockResponse, GetTxRequest,
        GetTxResponse, MerkleProof, QueryRequest, QueryResponse, SubmitTxRequest, SubmitTxResponse,
        SubscribeMessage, SubscribeRequest, get_block_request::At,
    },
};
use futures::Stream;
use prost::Message;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::Node;

/// The gRPC service over the node's chains.
#[derive(Debug, Clone)]
pub struct ChainService {
    node: Arc<Node>,
}

impl ChainService {
    pub fn new(node: Arc<Node>) -> Self {
        ChainService { node }
    }

    /// The tonic server of this service, with message size limits.
    pub fn server(self) -> pb::chain_server::ChainServer<Self> {
        pb::chain_server::ChainServer::new(self)
            .max_decoding_message_size(32 * 1024 * 1024)
            .max_encoding_message_size(512 * 1024 * 1024)
    }

    fn chain(&self, id: &str) -> Result<Chain, Status> {
        self.node.chain(id).cloned().ok_or_else(|| {
            Status::not_found(format!("NOT_FOUND: this node hosts no chain named {id:?}"))
        })
    }
}

fn tx_status(e: TxError) -> Status {
    let msg = format!("{}: {e}", e.code());
    match e {
        TxError::PoolFull { .. } => Status::resource_exhausted(msg),
        TxError::DuplicateInPool(_) | TxError::DuplicateOnLedger(_) => Status::already_exists(msg),
        TxError::UntrustedSender(_)
        | TxError::FrozenSender(_)
        | TxError::RevokedSender(_)
        | TxError::ExpiredSender(_)
        | TxError::MethodNotAllowed { .. } => Status::permission_denied(msg),
        TxError::UnknownContract(_) => Status::not_found(msg),
        TxError::Internal(_) => Status::internal(msg),
        _ => Status::invalid_argument(msg),
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(format!("INTERNAL: {e}"))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(internal)
}

fn hash(bytes: &[u8], what: &str) -> Result<Hash, Status> {
    Hash::from_slice(bytes)
        .map_err(|_| Status::invalid_argument(format!("BAD_REQUEST: {what} must be 32 bytes")))
}

#[tonic::async_trait]
impl pb::chain_server::Chain for ChainService {
    async fn submit_tx(
        &self,
        req: Request<SubmitTxRequest>,
    ) -> Result<Response<SubmitTxResponse>, Status> {
        let r = req.into_inner();
        let c = self.chain(&r.chain_id)?;
        let tx = r
            .transaction
            .ok_or_else(|| Status::invalid_argument("BAD_REQUEST: no transaction"))?;
        let bytes = tx.encode_to_vec();
        let c2 = c.clone();
        let id = blocking(move || c2.submit(bytes))
            .await?
            .map_err(tx_status)?;
        let pending = SubmitTxResponse {
            tx_id: id.0.to_vec(),
            status: "pending".into(),
            height: 0,
            result: None,
        };
        if !r.wait {
            return Ok(Response::new(pending));
        }
        let timeout = Duration::from_millis(if r.timeout_ms == 0 {
            30_000
        } else {
            r.timeout_ms.min(120_000)
        });
        match tokio::time::timeout(timeout, c.watch(id)).await {
            Ok(Ok(done)) => Ok(Response::new(SubmitTxResponse {
                tx_id: id.0.to_vec(),
                status: "committed".into(),
                height: done.height,
                result: Some(done.result),
            })),
            _ => Ok(Response::new(pending)),
        }
    }

    async fn query(&self, req: Request<QueryRequest>) -> Result<Response<QueryResponse>, Status> {
        let r = req.into_inner();
        let c = self.chain(&r.chain_id)?;
        let out = blocking(move || c.query(&r.contract, &r.method, &r.args, None))
            .await?
            .map_err(tx_status)?;
        Ok(Response::new(QueryResponse {
            code: out.result.code,
            message: out.result.message,
            return_data: out.result.return_data,
            gas_used: out.result.gas_used,
        }))
    }

    async fn get_block(
        &self,
        req: Request<GetBlockRequest>,
    ) -> Result<Response<GetBlockResponse>, Status> {
        let r = req.into_inner();
        let c = self.chain(&r.chain_id)?;
        let height = match r.at {
            Some(At::Height(h)) => h,
            Some(At::Hash(h)) => {
                let h = hash(&h, "the block hash")?;
                c.store()
                    .height_of(h.as_bytes())
                    .map_err(internal)?
                    .ok_or_else(|| Status::not_found("NOT_FOUND: no such block"))?
            }
            None => c.store().height().unwrap_or(0),
        };
        let block = blocking(move || c.store().block(height))
            .await?
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("NOT_FOUND: no block at height {height}")))?;
        Ok(Response::new(GetBlockResponse {
            hash: block.hash.0.to_vec(),
            block: Some(block.block),
        }))
    }

    async fn get_tx(&self, req: Request<GetTxRequest>) -> Result<Response<GetTxResponse>, Status> {
        let r = req.into_inner();
        let c = self.chain(&r.chain_id)?;
        let id = hash(&r.tx_id, "the tx id")?;
        let rec = blocking(move || c.transaction(&id))
            .await?
            .map_err(internal)?
            .ok_or_else(|| Status::not_found("NOT_FOUND: no such committed transaction"))?;
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
        }))
    }

    async fn chain_info(
        &self,
        req: Request<ChainInfoRequest>,
    ) -> Result<Response<ChainInfoResponse>, Status> {
        let c = self.chain(&req.into_inner().chain_id)?;
        let tip = c.store().tip();
        Ok(Response::new(ChainInfoResponse {
            chain_id: c.id().to_string(),
            height: tip.height.unwrap_or(0),
            last_hash: tip.hash,
            suite: c.suite().name().into(),
            consensus: c.consensus_kind().into(),
            config_version: c.config().version,
        }))
    }

    type SubscribeStream =
        Pin<Box<dyn Stream<Item = Result<SubscribeMessage, Status>> + Send + 'static>>;

    async fn subscribe(
        &self,
        req: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let r = req.into_inner();
        let c = self.chain(&r.chain_id)?;
        let events = match r.kind.as_str() {
            "" | "blocks" => false,
            "events" => true,
            other => {
                return Err(Status::invalid_argument(format!(
                    "BAD_REQUEST: unknown kind {other:?}"
                )));
            }
        };
        let contract = (!r.contract.is_empty()).then_some(r.contract);
        let (tx, rx) = mpsc::channel(64);
        let mut live = c.subscribe();
        let mut next = if r.from_height > 0 {
            r.from_height
        } else {
            c.store().height().map_or(0, |h| h + 1)
        };
        tokio::spawn(async move {
            loop {
                // Stored blocks first (resume point up to the tip), then live ones.
                while c.store().height().is_some_and(|tip| next <= tip) {
                    let cc = c.clone();
                    let h = next;
                    let Ok(Ok(Some(block))) =
                        tokio::task::spawn_blocking(move || cc.store().block(h)).await
                    else {
                        return;
                    };
                    for m in messages(&block, events, contract.as_deref()) {
                        if tx.send(Ok(m)).await.is_err() {
                            return;
                        }
                    }
                    next += 1;
                }
                match live.recv().await {
                    Ok(b) if b.block.height() == next => {
                        for m in messages(&b.block, events, contract.as_deref()) {
                            if tx.send(Ok(m)).await.is_err() {
                                return;
                            }
                        }
                        next += 1;
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn messages(
    block: &covenant_types::block::DecodedBlock,
    events: bool,
    contract: Option<&str>,
) -> Vec<SubscribeMessage> {
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
