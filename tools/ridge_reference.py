#!/usr/bin/env python3
"""Reference values for Tests/StructuralDescriptorsTests/RidgeRegressionTests.swift.

Builds the same deterministic design the Swift test builds (x_ik = sin(1.3 i + 0.7 k + 0.1 i k),
y_i = 0.5 x_i0 − 2 x_i1 + cos(i) + 3), standardises the features with their mean and population
standard deviation, and solves the ridge problem independently of the Swift code: as the
ordinary least-squares problem of the augmented system [Z; √λ I] β = [y − ȳ; 0]
(numpy.linalg.lstsq, an SVD), then prints β, the intercept and the prediction of one new row.

    python3 tools/ridge_reference.py
"""
import numpy as np

n, d, lam = 12, 3, 2.5
i = np.arange(n)[:, None]
k = np.arange(d)[None, :]
x = np.sin(1.3 * i + 0.7 * k + 0.1 * i * k)
y = 0.5 * x[:, 0] - 2 * x[:, 1] + np.cos(np.arange(n)) + 3
mu, sigma = x.mean(0), x.std(0)
z = (x - mu) / sigma
a = np.vstack([z, np.sqrt(lam) * np.eye(d)])
b = np.concatenate([y - y.mean(), np.zeros(d)])
beta = np.linalg.lstsq(a, b, rcond=None)[0]
new = np.array([0.3, -0.2, 0.9])
print("beta", repr(beta.tolist()))
print("intercept", repr(float(y.mean())))
print("prediction", repr(float(y.mean() + ((new - mu) / sigma) @ beta)))
