//! A fungible token: `mint {"to"?, "amount"}`, `transfer {"to","amount"}`, `balance {"owner"?}`,
//! `supply {}`. Accounts are strings; a caller's own account is its certificate id (hex), so
//! `balance {}` and `mint` without `to` mean "mine". Who may mint is the contract's method
//! policy (e.g. admins only), set when the contract is installed.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::{format, string::String};

use covenant_contract::{Context, Error, contract};
use serde::{Deserialize, Serialize};

const SUPPLY: &[u8] = b"supply";

fn account_key(owner: &str) -> String {
    format!("balance/{owner}")
}

fn balance_of(ctx: &Context, owner: &str) -> Result<u128, Error> {
    Ok(ctx.get_json(account_key(owner).as_bytes())?.unwrap_or(0))
}

#[derive(Deserialize)]
struct Mint {
    #[serde(default)]
    to: Option<String>,
    amount: u128,
}

#[derive(Deserialize)]
struct Transfer {
    to: String,
    amount: u128,
}

#[derive(Deserialize)]
struct Balance {
    #[serde(default)]
    owner: Option<String>,
}

#[derive(Serialize)]
struct Moved<'a> {
    from: &'a str,
    to: &'a str,
    amount: u128,
}

fn mint(ctx: &mut Context, a: Mint) -> Result<u128, Error> {
    if a.amount == 0 {
        return Err(Error::new("amount must be positive"));
    }
    let to = a.to.unwrap_or_else(|| ctx.caller().cert_id);
    let supply: u128 = ctx.get_json(SUPPLY)?.unwrap_or(0);
    let supply = supply
        .checked_add(a.amount)
        .ok_or_else(|| Error::new("supply overflow"))?;
    let bal = balance_of(ctx, &to)? + a.amount;
    ctx.put_json(account_key(&to).as_bytes(), &bal)?;
    ctx.put_json(SUPPLY, &supply)?;
    ctx.emit(
        "mint",
        &Moved {
            from: "",
            to: &to,
            amount: a.amount,
        },
    );
    Ok(bal)
}

fn transfer(ctx: &mut Context, a: Transfer) -> Result<u128, Error> {
    if a.amount == 0 {
        return Err(Error::new("amount must be positive"));
    }
    if a.to.is_empty() {
        return Err(Error::new("recipient must not be empty"));
    }
    let from = ctx.caller().cert_id;
    let have = balance_of(ctx, &from)?;
    let left = have.checked_sub(a.amount).ok_or_else(|| {
        Error::new(format!(
            "insufficient balance: have {have}, need {}",
            a.amount
        ))
    })?;
    ctx.put_json(account_key(&from).as_bytes(), &left)?;
    let to_bal = balance_of(ctx, &a.to)? + a.amount;
    ctx.put_json(account_key(&a.to).as_bytes(), &to_bal)?;
    ctx.emit(
        "transfer",
        &Moved {
            from: &from,
            to: &a.to,
            amount: a.amount,
        },
    );
    Ok(left)
}

fn balance(ctx: &mut Context, a: Balance) -> Result<u128, Error> {
    let owner = a.owner.unwrap_or_else(|| ctx.caller().cert_id);
    balance_of(ctx, &owner)
}

fn supply(ctx: &mut Context, _: ()) -> Result<u128, Error> {
    Ok(ctx.get_json(SUPPLY)?.unwrap_or(0))
}

contract! {
    "mint" => mint,
    "transfer" => transfer,
    "balance" => balance,
    "supply" => supply,
}

#[cfg(test)]
mod tests {
    use covenant_contract::{Caller, testing};

    use super::__covenant_call as token;

    fn as_account(id: &str) {
        testing::set_caller(Caller {
            org: "org1".into(),
            role: "client".into(),
            cert_id: id.into(),
            name: id.into(),
            contract: None,
        });
    }

    #[test]
    fn mint_transfer_balance() {
        testing::reset();
        as_account("alice");
        assert_eq!(
            testing::call(token, "mint", r#"{"amount": 100}"#).unwrap(),
            "100"
        );
        assert_eq!(
            testing::call(token, "transfer", r#"{"to":"bob","amount":30}"#).unwrap(),
            "70"
        );
        assert_eq!(
            testing::call(token, "balance", r#"{"owner":"bob"}"#).unwrap(),
            "30"
        );
        assert_eq!(testing::call(token, "balance", "{}").unwrap(), "70");
        let err = testing::call(token, "transfer", r#"{"to":"bob","amount":71}"#).unwrap_err();
        assert!(err.0.contains("insufficient"), "{}", err.0);
        // The failed transfer changed nothing.
        assert_eq!(testing::call(token, "balance", "{}").unwrap(), "70");
        assert_eq!(testing::call(token, "supply", "null").unwrap(), "100");
        assert!(testing::call(token, "transfer", r#"{"to":"bob","amount":1.5}"#).is_err());
    }
}
