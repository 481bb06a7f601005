"""Outgoing webhooks signed the Standard Webhooks way, and verification of incoming
ones. See ``docs/webhooks.md``."""

from bastion.webhooks.errors import (
    EndpointNotFound,
    InvalidEventPayload,
    InvalidSignature,
    MessageNotFound,
    TargetRefused,
    TimestampOutOfTolerance,
    UnknownEventType,
    WebhookError,
)
from bastion.webhooks.events import WebhookRegistry
from bastion.webhooks.inbound import InboundWebhook, WebhookReceiver, verify_webhook
from bastion.webhooks.install import WebhooksFeature, webhooks_of
from bastion.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from bastion.webhooks.settings import WebhooksSettings
from bastion.webhooks.signing import new_secret

__all__ = [
    "EndpointNotFound",
    "InboundWebhook",
    "InvalidEventPayload",
    "InvalidSignature",
    "MessageNotFound",
    "TargetRefused",
    "TimestampOutOfTolerance",
    "UnknownEventType",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookError",
    "WebhookMessage",
    "WebhookReceiver",
    "WebhookRegistry",
    "WebhooksFeature",
    "WebhooksSettings",
    "new_secret",
    "verify_webhook",
    "webhooks_of",
]
