"""Analysis layer: per-configuration errors, Fisher information, bootstrap and MCMC."""

from workbench.analysis.bootstrap import Bootstrap, BootstrapResult
from workbench.analysis.fisher import Fisher, ridders_derivative
from workbench.analysis.jobs import AnalysisJob, JobEvent
from workbench.analysis.mcmc import MCMC, MCMCResult, natural_temperature
from workbench.analysis.rmse import EnergyForcesRMSE

__all__ = ["EnergyForcesRMSE", "Fisher", "ridders_derivative", "Bootstrap",
           "BootstrapResult", "MCMC", "MCMCResult", "natural_temperature", "AnalysisJob",
           "JobEvent"]
