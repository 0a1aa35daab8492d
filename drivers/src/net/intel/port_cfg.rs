//! What `configure` asked of an Intel port with several queues (e1000e, igb): kept by the
//! primary's control object and used again at `start` and by RSS updates.

use ethdev::rss::RssConf;
use ethdev::PortConf;

/// The queue counts and RSS settings of the last `configure`.
#[derive(Debug, Clone, Copy)]
pub struct PortCfg {
    /// RX queues.
    pub nb_rxq: usize,
    /// TX queues.
    pub nb_txq: usize,
    /// RSS asked for.
    pub rss: bool,
    /// The RSS key and hash kinds.
    pub rss_conf: RssConf,
}

impl Default for PortCfg {
    /// One queue each way, no RSS: a port before its first `configure`.
    fn default() -> Self {
        PortCfg { nb_rxq: 1, nb_txq: 1, rss: false, rss_conf: RssConf::default() }
    }
}

impl From<&PortConf> for PortCfg {
    fn from(conf: &PortConf) -> Self {
        PortCfg {
            nb_rxq: usize::from(conf.nb_rxq),
            nb_txq: usize::from(conf.nb_txq),
            rss: conf.rss,
            rss_conf: conf.rss_conf,
        }
    }
}
