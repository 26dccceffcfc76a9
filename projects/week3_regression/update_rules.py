"""The optimizers' update rules written by hand (W3.X5): heavy-ball momentum, RMSProp and Adam
as small pure functions, in the form ``torch.optim`` implements them (so that the two agree
step for step from the same start).

Each rule maps (theta_{t-1}, g_t, state_{t-1}) to (theta_t, state_t), g_t = grad f(theta_{t-1}),
and never changes its inputs; the state starts as an empty dict (every average at 0):

    momentum  v_t = mu v_{t-1} + g_t                          theta_t = theta_{t-1} - lr v_t
    RMSProp   s_t = alpha s_{t-1} + (1 - alpha) g_t^2         theta_t = theta_{t-1}
                                                                 - lr g_t / (sqrt(s_t) + eps)
    Adam      m_t = beta1 m_{t-1} + (1 - beta1) g_t,  v_t = beta2 v_{t-1} + (1 - beta2) g_t^2,
              theta_t = theta_{t-1} - lr m^_t / (sqrt(v^_t) + eps),
              m^_t = m_t / (1 - beta1^t), v^_t = v_t / (1 - beta2^t)  (bias corrections)

Momentum is the heavy ball as ``torch.optim.SGD(momentum=mu)`` defines it: the velocity sums
raw gradients and lr multiplies it (Sutskever et al. write v = mu v - lr g; the two agree
while lr is constant). The defaults are ``torch.optim``'s: alpha = 0.99, eps = 1e-8 for
RMSprop; betas = (0.9, 0.999), eps = 1e-8 for Adam. Arrays are NumPy (or torch) float64.

Sources:
- S. Ruder, "An overview of gradient descent optimization algorithms" (2016), arXiv:1609.04747,
  sections 4.1 (momentum), 4.5 (RMSprop), 4.6 (Adam).
- D. P. Kingma, J. Ba, "Adam: A method for stochastic optimization", ICLR (2015), Algorithm 1.
- the PyTorch documentation of ``torch.optim.SGD``, ``RMSprop`` and ``Adam`` (the pseudocode).
"""

import numpy as np

from common.exercises import exercise


@exercise("W3.X5", hint='state.get("v", 0.0) is v_{t-1}; return a new dict, leave state as is')
def momentum_step(theta, g, state, lr, momentum=0.9):
    """v_t = mu v_{t-1} + g_t (v_0 = 0), theta_t = theta_{t-1} - lr v_t.

    ``theta``, ``g``: float64 arrays of one shape; ``state``: {} at t = 1, else the dict this
    rule returned ({"v": v_{t-1}}). Returns (theta_t, {"v": v_t}), inputs unchanged.
    """
    v = momentum * state.get("v", 0.0) + g
    return theta - lr * v, {"v": v}


@exercise("W3.X5", hint="elementwise: g**2, s**0.5; eps goes after the square root")
def rmsprop_step(theta, g, state, lr, alpha=0.99, eps=1e-8):
    """s_t = alpha s_{t-1} + (1 - alpha) g_t^2, theta_t = theta_{t-1} - lr g_t / (sqrt(s_t) + eps).

    ``theta``, ``g``: float64 arrays of one shape; ``state``: {} at t = 1, else {"s": s_{t-1}}.
    Returns (theta_t, {"s": s_t}), inputs unchanged.

    (``torch.optim.RMSprop`` adds eps after the square root, as here; Hinton's slides and
    Keras put it under it.)
    """
    s = alpha * state.get("s", 0.0) + (1 - alpha) * g**2
    return theta - lr * g / (s**0.5 + eps), {"s": s}


@exercise("W3.X5", hint="keep the step count t in the state too: the bias corrections need it")
def adam_step(theta, g, state, lr, betas=(0.9, 0.999), eps=1e-8):
    """theta_t = theta_{t-1} - lr m^_t / (sqrt(v^_t) + eps) with bias-corrected averages
    m^_t = m_t / (1 - beta1^t) of g and v^_t = v_t / (1 - beta2^t) of g^2, where
    m_t = beta1 m_{t-1} + (1 - beta1) g_t and v_t = beta2 v_{t-1} + (1 - beta2) g_t^2.

    ``theta``, ``g``: float64 arrays of one shape; ``state``: {} at t = 1, else the dict this
    rule returned ({"m": m_{t-1}, "v": v_{t-1}, "t": t - 1}). Returns (theta_t, the new
    state), inputs unchanged.
    """
    beta1, beta2 = betas
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return theta - lr * m_hat / (v_hat**0.5 + eps), {"m": m, "v": v, "t": t}


RULES = {"momentum": momentum_step, "rmsprop": rmsprop_step, "adam": adam_step}


def iterate(rule, grad, theta0, steps, **hyperparameters):
    """theta_0..theta_steps of ``rule`` (a function of ``RULES``) with g_t = grad(theta_{t-1});
    shape (steps + 1, *theta0.shape)."""
    theta, state = np.asarray(theta0, dtype=np.float64), {}
    path = [theta]
    for _ in range(steps):
        theta, state = rule(theta, grad(theta), state, **hyperparameters)
        path.append(theta)
    return np.stack(path)
