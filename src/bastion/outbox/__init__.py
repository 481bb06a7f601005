"""Transactional outbox and inbox.

>>> from bastion.outbox import Message
>>> async def on_task_created(message: Message) -> None:
...     print("task created", message.payload["id"])
>>> handlers = {"task.created": on_task_created}  # create_app(outbox_handlers=handlers)
"""

from bastion.outbox.inbox import process_once
from bastion.outbox.install import outbox_relay
from bastion.outbox.models import InboxEntry, OutboxMessage
from bastion.outbox.producer import add
from bastion.outbox.relay import Handler, Relay
from bastion.outbox.settings import OutboxSettings
from bastion.outbox.store import Backlog, Message, OutboxStore

__all__ = [
    "Backlog",
    "Handler",
    "InboxEntry",
    "Message",
    "OutboxMessage",
    "OutboxSettings",
    "OutboxStore",
    "Relay",
    "add",
    "outbox_relay",
    "process_once",
]
