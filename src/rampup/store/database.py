"""The composition root of the store: one :class:`Database` holding the engine, the
transaction handling (:mod:`rampup.store.transactions`) and one repository per concept.

    db = Database.open("sqlite:///rampup.db")
    db.models.ensure_model("churn")
    db.predictions.count_predictions("churn")
    with db.transaction():          # one unit of work across repositories
        db.feedback.add_feedback([...])
        db.events.add_event("ops", "relabel", model="churn")

It has no data methods of its own: each concept's reads and writes live in its
repository, typed by a small protocol (:mod:`rampup.store.protocols`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa

from rampup.store import protocols as p
from rampup.store.alerts import SqlAlerts
from rampup.store.automation import SqlAutomationLevels
from rampup.store.credentials import SqlCredentials
from rampup.store.dead_letters import SqlDeadLetters
from rampup.store.deployments import SqlDeployments
from rampup.store.engine import create_engine
from rampup.store.events import SqlEvents
from rampup.store.feedback import SqlFeedback
from rampup.store.migrate import upgrade
from rampup.store.models import SqlEvaluations, SqlModels
from rampup.store.partitions import SqlPartitions
from rampup.store.predictions import SqlPredictions
from rampup.store.retrain import SqlRetrainRuns
from rampup.store.review import SqlReview
from rampup.store.rollouts import SqlRollouts
from rampup.store.transactions import Transactions
from rampup.store.windows import SqlWindows


class Database:
    """Everything rampup keeps, one repository per concept, on SQLite or PostgreSQL.

    Thread-safe (each call takes a pooled connection, or joins the unit of work open in
    its thread). Open with :meth:`open`, which applies migrations unless
    ``migrate=False``.
    """

    models: p.Models
    evaluations: p.Evaluations
    deployments: p.Deployments
    rollouts: p.Rollouts
    predictions: p.Predictions
    feedback: p.Feedback
    partitions: p.Partitions
    events: p.Events
    windows: p.Windows
    alerts: p.Alerts
    retrain: p.RetrainRuns
    review: p.Review
    automation: p.AutomationLevels
    dead_letters: p.DeadLetters
    credentials: p.Credentials

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.tx = tx = Transactions(engine)
        self.models = SqlModels(tx)
        self.evaluations = SqlEvaluations(tx)
        self.deployments = SqlDeployments(tx)
        self.rollouts = SqlRollouts(tx)
        self.predictions = SqlPredictions(tx)
        self.feedback = SqlFeedback(tx)
        self.partitions = SqlPartitions(tx)
        self.events = SqlEvents(tx)
        self.windows = SqlWindows(tx)
        self.alerts = SqlAlerts(tx)
        self.retrain = SqlRetrainRuns(tx)
        self.review = SqlReview(tx)
        self.automation = SqlAutomationLevels(tx)
        self.dead_letters = SqlDeadLetters(tx)
        self.credentials = SqlCredentials(tx)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        engine = create_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One unit of work: repository calls made inside it (same thread or task) run in
        this transaction and commit or roll back together."""
        with self.tx.begin() as conn:
            yield conn

    def reads(self) -> AbstractContextManager[None]:
        """Repository reads made inside share one connection (see ``Transactions.reads``)."""
        return self.tx.reads()

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

