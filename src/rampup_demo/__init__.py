"""The self-contained demo: a loan-application generator, model training and the runner.

:mod:`rampup_demo.data` generates realistic, seeded loan applications with switches for
data drift and concept drift; :mod:`rampup_demo.train` trains the demo's model versions
(v1 logistic regression, v2 gradient boosting) and writes every file the demo needs.
Nothing here downloads anything.
"""
