//! The `ethdev::Pmd` glue every PCI driver needs: a PCI driver implements [`PciDriver`]
//! (its name, its ids, probe and attach) and is registered as a [`PciPmd`], which refuses
//! `--vdev` ports and non-PCI secondaries with the same messages for every driver, and hands
//! the driver a port slot whose driver state is zeroed. [`bar0`] gets the register BAR with
//! an error that says what to check.

use eal::bus::BusDevice;
use eal::vfio::MmioRegion;
use ethdev::{DataPath, EthError, Pmd, PortCtx, Probed, VdevArgs};
use std::sync::Arc;

/// A driver of PCI devices.
pub trait PciDriver: Sync {
    /// The driver's name.
    const NAME: &'static str;
    /// The PCI `(vendor, device)` ids it takes.
    const PCI_IDS: &'static [(u16, u16)];
    /// Creates a port from `dev` (primary); the slot's driver state is zero.
    fn probe(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Probed, EthError>;
    /// Binds the data path of a port the primary probed (secondary).
    fn attach(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError>;
}

/// A [`PciDriver`] as an `ethdev` PMD.
pub struct PciPmd<D>(pub D);

impl<D: PciDriver> Pmd for PciPmd<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn probe_vdev(&self, ctx: &PortCtx, args: &VdevArgs) -> Result<Probed, EthError> {
        Err(EthError::BadDevargs {
            args: args.raw.clone(),
            why: format!(
                "{} drives PCI devices only (port {}): bind the NIC to vfio-pci and use -a <BDF>",
                D::NAME,
                ctx.port
            ),
        })
    }

    fn attach(&self, ctx: &PortCtx) -> Result<Arc<dyn DataPath>, EthError> {
        Err(device_err(
            ctx,
            format!("{} ports are PCI devices: the secondary must attach through the PCI bus", D::NAME),
        ))
    }

    fn pci_ids(&self) -> &'static [(u16, u16)] {
        D::PCI_IDS
    }

    fn probe_pci(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Probed, EthError> {
        ctx.slot.clear_driver_state();
        self.0.probe(ctx, dev)
    }

    fn attach_pci(&self, ctx: &PortCtx, dev: &Arc<BusDevice>) -> Result<Arc<dyn DataPath>, EthError> {
        self.0.attach(ctx, dev)
    }
}

/// A device error of port `ctx.port`.
pub fn device_err(ctx: &PortCtx, msg: impl Into<String>) -> EthError {
    EthError::Device { port: ctx.port, msg: msg.into() }
}

/// This process's mapping of BAR0 of `dev` (the registers of the Intel NICs).
pub fn bar0(ctx: &PortCtx, dev: &BusDevice) -> Result<Arc<MmioRegion>, EthError> {
    dev.bar(0).cloned().ok_or_else(|| {
        device_err(ctx, format!("{}: BAR0 (the registers) is not mapped; is the device bound to vfio-pci?", dev.addr()))
    })
}
