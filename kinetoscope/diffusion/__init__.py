from kinetoscope.diffusion.flow import add_noise, flow_loss, logit_normal, shift_t, token_shift, velocity
from kinetoscope.diffusion.samplers import SAMPLERS, denoise, timesteps

__all__ = ["add_noise", "flow_loss", "logit_normal", "shift_t", "token_shift", "velocity", "SAMPLERS", "denoise", "timesteps"]
