//! Windows only: the real ECRCommX.BPOS1Lib driven through COM automation.
//!
//! ECRCommX is a 32-bit in-process COM server, so a 64-bit Kasa cannot load it
//! into its own process. We reach it **out of process through the system DLL
//! surrogate** (`dllhost.exe`, 32-bit): the installer registers the class's
//! AppID with an empty `DllSurrogate` value (see `terminal/README.md`), and
//! this backend creates the object with `CLSCTX_LOCAL_SERVER`. COM then
//! marshals every `IDispatch` call to the surrogate; late binding by name
//! needs no type library on our side.
//!
//! The object lives on the driver's own thread, which initialises COM as a
//! single-threaded apartment.
#![allow(unsafe_code)]

use std::sync::Arc;

use windows::core::{BSTR, GUID, HSTRING, PCWSTR};
use windows::Win32::System::Com::{
    CLSIDFromProgID, CoCreateInstance, CoInitializeEx, IDispatch, CLSCTX_INPROC_SERVER,
    CLSCTX_LOCAL_SERVER, COINIT_APARTMENTTHREADED, DISPATCH_FLAGS, DISPATCH_METHOD,
    DISPATCH_PROPERTYGET, DISPPARAMS, EXCEPINFO,
};
use windows::Win32::System::Variant::{VARIANT, VT_BSTR, VT_EMPTY};

use super::{Bpos1Api, Bpos1Terminal, Value};
use crate::config::TerminalConfig;
use crate::transport::Endpoint;
use crate::{CardTerminal, Error, Result};

/// The ProgID of the B-POS1 automation object.
pub const PROG_ID: &str = "ECRCommX.BPOS1Lib";

/// The ECRCommX object behind `IDispatch`.
pub struct ComBpos1 {
    disp: IDispatch,
}

impl std::fmt::Debug for ComBpos1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ComBpos1")
    }
}

fn com_err(what: &str, e: windows::core::Error) -> Error {
    Error::Transport(std::io::Error::other(format!("{what}: {e}")))
}

impl ComBpos1 {
    /// Create the object: out of process (DLL surrogate) first, then in
    /// process (a 32-bit build of Kasa can load the DLL directly).
    pub fn create() -> Result<Self> {
        // SAFETY: plain COM calls on this thread; arguments are valid for the call.
        unsafe {
            let _ = CoInitializeEx(None, COINIT_APARTMENTTHREADED);
            let clsid: GUID = CLSIDFromProgID(&HSTRING::from(PROG_ID))
                .map_err(|e| com_err("ECRCommX is not registered", e))?;
            let disp: IDispatch = match CoCreateInstance(&clsid, None, CLSCTX_LOCAL_SERVER) {
                Ok(d) => d,
                Err(_) => CoCreateInstance(&clsid, None, CLSCTX_INPROC_SERVER)
                    .map_err(|e| com_err("cannot create ECRCommX.BPOS1Lib", e))?,
            };
            Ok(Self { disp })
        }
    }

    fn dispid(&self, name: &str) -> Result<i32> {
        let wide: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
        let names = [PCWSTR(wide.as_ptr())];
        let mut id = 0i32;
        // SAFETY: `names` points to one NUL-terminated UTF-16 string alive for the call.
        unsafe {
            self.disp
                .GetIDsOfNames(&GUID::zeroed(), names.as_ptr(), 1, 0x0400, &mut id)
                .map_err(|e| com_err(&format!("no member {name}"), e))?;
        }
        Ok(id)
    }

    fn invoke(&self, name: &str, flags: DISPATCH_FLAGS, args: &[Value]) -> Result<VARIANT> {
        let id = self.dispid(name)?;
        // IDispatch takes arguments in reverse order.
        let mut vars: Vec<VARIANT> = args
            .iter()
            .rev()
            .map(|a| match a {
                Value::Int(i) => VARIANT::from(i32::try_from(*i).unwrap_or(i32::MAX)),
                Value::Str(s) => VARIANT::from(s.as_str()),
            })
            .collect();
        let params = DISPPARAMS {
            rgvarg: if vars.is_empty() {
                std::ptr::null_mut()
            } else {
                vars.as_mut_ptr()
            },
            rgdispidNamedArgs: std::ptr::null_mut(),
            cArgs: u32::try_from(vars.len()).unwrap_or(0),
            cNamedArgs: 0,
        };
        let mut result = VARIANT::default();
        let mut excep = EXCEPINFO::default();
        // SAFETY: `params` points into `vars`, which outlives the call.
        unsafe {
            self.disp
                .Invoke(
                    id,
                    &GUID::zeroed(),
                    0x0400,
                    flags,
                    &params,
                    Some(&mut result),
                    Some(&mut excep),
                    None,
                )
                .map_err(|e| com_err(name, e))?;
        }
        Ok(result)
    }
}

fn to_value(v: &VARIANT) -> Value {
    let vt = v.vt();
    if vt == VT_EMPTY {
        return Value::Str(String::new());
    }
    if vt == VT_BSTR {
        // Keep text as text: invoice numbers and RRNs have leading zeros.
        return Value::Str(BSTR::try_from(v).map(|s| s.to_string()).unwrap_or_default());
    }
    match i64::try_from(v) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::Str(BSTR::try_from(v).map(|s| s.to_string()).unwrap_or_default()),
    }
}

impl Bpos1Api for ComBpos1 {
    fn call(&mut self, method: &str, args: &[Value]) -> Result<()> {
        self.invoke(method, DISPATCH_METHOD, args).map(|_| ())
    }

    fn get(&mut self, property: &str) -> Result<Value> {
        let v = self.invoke(property, DISPATCH_PROPERTYGET | DISPATCH_METHOD, &[])?;
        Ok(to_value(&v))
    }
}

/// Open the terminal the settings name, through ECRCommX, behind the trait.
pub fn connect(cfg: &TerminalConfig) -> Result<Arc<dyn CardTerminal>> {
    let endpoint = cfg.endpoint.clone();
    let factory = move || -> Result<ComBpos1> {
        let mut api = ComBpos1::create()?;
        api.call("SetErrorLang", &[Value::Int(1)])?;
        match &endpoint {
            Endpoint::Serial { path, baud } => {
                let digits: String = path.chars().filter(char::is_ascii_digit).collect();
                let port: i64 = digits
                    .parse()
                    .map_err(|_| Error::InvalidRequest(format!("COM port {path:?}")))?;
                api.call(
                    "CommOpen",
                    &[Value::Int(port), Value::Int(i64::from(*baud))],
                )?;
            }
            Endpoint::Tcp { address } => {
                let (host, port) = address
                    .rsplit_once(':')
                    .ok_or_else(|| Error::InvalidRequest(format!("address {address:?}")))?;
                api.call(
                    "CommOpenTCP",
                    &[Value::Str(host.into()), Value::Str(port.into())],
                )?;
            }
        }
        Ok(api)
    };
    Ok(Arc::new(Bpos1Terminal::with_factory(
        factory,
        cfg.explicit_confirm,
        cfg.timeouts.clone(),
    )))
}
