"""Problem codes of webhooks.

WebhookError
├── EndpointNotFound          404 webhook.endpoint_not_found
├── MessageNotFound           404 webhook.message_not_found
├── UnknownEventType          422 webhook.unknown_event_type (or a version not registered)
├── InvalidEventPayload       500 webhook.invalid_payload (a producer's bug, not the receiver's)
├── TargetRefused             422 webhook.target_refused (SSRF policy, scheme)
├── InvalidSignature          401 webhook.invalid_signature
└── TimestampOutOfTolerance   401 webhook.timestamp_out_of_tolerance
"""

from __future__ import annotations

from bastion.core.errors import BastionError


class WebhookError(BastionError):
    """Root of webhook errors."""


class EndpointNotFound(WebhookError):
    code = "webhook.endpoint_not_found"
    status = 404
    title = "Webhook endpoint not found"


class MessageNotFound(WebhookError):
    code = "webhook.message_not_found"
    status = 404
    title = "Webhook message not found"


class UnknownEventType(WebhookError):
    code = "webhook.unknown_event_type"
    status = 422
    title = "Unknown webhook event type"


class InvalidEventPayload(WebhookError):
    code = "webhook.invalid_payload"
    status = 500
    title = "Webhook payload does not match its event type"


class TargetRefused(WebhookError):
    code = "webhook.target_refused"
    status = 422
    title = "Webhook target refused"


class InvalidSignature(WebhookError):
    code = "webhook.invalid_signature"
    status = 401
    title = "Invalid webhook signature"


class TimestampOutOfTolerance(WebhookError):
    code = "webhook.timestamp_out_of_tolerance"
    status = 401
    title = "Webhook timestamp out of tolerance"
