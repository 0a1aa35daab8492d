//! What a port accepts beside its own address, as DPDK's `rte_eth_allmulticast_*` and
//! `rte_eth_dev_vlan_filter`: all-multicast mode and the VLAN filter, each checked here
//! (port state, VLAN id range, the VLAN_FILTER offload) before the driver is asked, and
//! each naming the driver when it cannot; and VLAN stripping switched at run time, as
//! `rte_eth_dev_set_vlan_offload` with `RTE_ETH_VLAN_STRIP_OFFLOAD`.

use super::PortControl;
use crate::error::EthError;
use crate::offload::RxOffloads;
use std::sync::atomic::Ordering;

/// Highest VLAN id.
pub const MAX_VLAN_ID: u16 = 4095;

impl PortControl<'_> {
    /// A driver's "not supported" answer with this port's id and driver name.
    pub(super) fn named(&self, e: EthError) -> EthError {
        match e {
            EthError::Unsupported { what, .. } => EthError::Unsupported {
                port: self.port.id,
                what: format!("{what} is not supported by {}", self.ctl.info().driver_name),
            },
            other => other,
        }
    }

    /// All-multicast mode on or off (`rte_eth_allmulticast_enable/disable`): every
    /// multicast frame is received, not only those of the port's multicast list. Kept
    /// across stop and start.
    pub fn set_allmulticast(&self, on: bool) -> Result<(), EthError> {
        self.ctl.allmulticast(on).map_err(|e| self.named(e))?;
        self.port.slot.allmulti.store(u32::from(on), Ordering::Relaxed);
        Ok(())
    }

    /// True in all-multicast mode.
    pub fn allmulticast(&self) -> bool {
        self.port.slot.allmulti.load(Ordering::Relaxed) == 1
    }

    /// Adds (`on`) or removes VLAN id `vid` in the receive VLAN filter
    /// (`rte_eth_dev_vlan_filter`). The port must be configured with
    /// [`RxOffloads::VLAN_FILTER`]; the id must be 0-4095.
    pub fn vlan_filter(&self, vid: u16, on: bool) -> Result<(), EthError> {
        if vid > MAX_VLAN_ID {
            return Err(EthError::Unsupported {
                port: self.port.id,
                what: format!("VLAN id {vid}: VLAN ids are 0-{MAX_VLAN_ID}"),
            });
        }
        let rx = RxOffloads::from_bits_retain(self.port.slot.rx_offloads.load(Ordering::Relaxed));
        if !rx.contains(RxOffloads::VLAN_FILTER) {
            let info = self.ctl.info();
            let fix = if info.rx_offload_capa.contains(RxOffloads::VLAN_FILTER) {
                "configure the port with RxOffloads::VLAN_FILTER in PortConf::rx_offloads first".to_string()
            } else {
                format!("{} has no VLAN filter (RX offloads: {})", info.driver_name, info.rx_offload_capa.names())
            };
            return Err(EthError::Unsupported { port: self.port.id, what: format!("VLAN filter: {fix}") });
        }
        self.ctl.vlan_filter(vid, on).map_err(|e| self.named(e))
    }

    /// VLAN stripping on or off (`rte_eth_dev_set_vlan_offload`): received frames' tags go
    /// to `vlan_tci` with the VLAN-stripped flags. The port must be configured (not
    /// necessarily stopped); the device must have [`RxOffloads::VLAN_STRIP`]. The port's RX
    /// offloads say the new state.
    pub fn set_vlan_strip(&self, on: bool) -> Result<(), EthError> {
        let info = self.ctl.info();
        if !info.rx_offload_capa.contains(RxOffloads::VLAN_STRIP) {
            return Err(EthError::Unsupported {
                port: self.port.id,
                what: format!(
                    "VLAN stripping: {} has no VLAN_STRIP (RX offloads: {})",
                    info.driver_name,
                    info.rx_offload_capa.names()
                ),
            });
        }
        self.ctl.vlan_strip(on).map_err(|e| self.named(e))?;
        let bit = RxOffloads::VLAN_STRIP.bits();
        if on {
            self.port.slot.rx_offloads.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.port.slot.rx_offloads.fetch_and(!bit, Ordering::Relaxed);
        }
        Ok(())
    }
}
