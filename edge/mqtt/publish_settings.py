"""How estimates are published to dashboards: rate (or decimation) and batching.

One definition, used by the config file (``[mqtt]``, :class:`edge.config.MqttConfig`
inherits the fields), ``cmd/config`` (:class:`PublishSettingsUpdate`, a partial update),
the publisher (:class:`edge.mqtt.publisher.EstimatePublisher` holds a
:class:`PublishSettings`) and ``sspinn-edge simulate`` (``--publish-rate``,
``--batch-size``). The retained ``meta`` reports what the publisher does:
:meth:`PublishSettings.effective_rate_hz`, never an unset field.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Frames per second when neither a rate nor a decimation is given (Hz).
DEFAULT_PUBLISH_RATE_HZ = 20.0

PublishRateHz = Annotated[
    float,
    Field(
        gt=0.0,
        le=400.0,
        description="Estimate frames per second sent to dashboards (default 20; "
        "exclusive with decimation)",
    ),
]
Decimation = Annotated[
    int, Field(ge=1, le=1000, description="Publish every n-th sample's estimate instead")
]
BatchSize = Annotated[int, Field(ge=1, le=100, description="Estimate frames per message")]


def _rate_or_decimation(model: Any) -> None:
    if model.publish_rate_hz is not None and model.decimation is not None:
        raise ValueError("give publish_rate_hz or decimation, not both")


class PublishFields(BaseModel):
    """The publish fields and their rules (a base: see :class:`PublishSettings`)."""

    publish_rate_hz: PublishRateHz | None = None
    decimation: Decimation | None = None
    batch_size: BatchSize = 1

    @model_validator(mode="after")
    def _exclusive(self) -> PublishFields:
        _rate_or_decimation(self)
        return self

    def effective_rate_hz(self, sample_rate_hz: float) -> float:
        """Frames per second actually published at ``sample_rate_hz`` (Hz)."""
        if self.decimation is not None:
            return sample_rate_hz / self.decimation
        return min(self.publish_rate_hz or DEFAULT_PUBLISH_RATE_HZ, sample_rate_hz)

    def publish_settings(self) -> PublishSettings:
        """These fields as a standalone :class:`PublishSettings`."""
        return PublishSettings(
            publish_rate_hz=self.publish_rate_hz,
            decimation=self.decimation,
            batch_size=self.batch_size,
        )


class PublishSettings(PublishFields):
    """Rate (``publish_rate_hz`` or ``decimation``, at most one) and ``batch_size``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def every_sample_at_or_above(
        cls, publish_rate_hz: float, sample_rate_hz: float, batch_size: int = 1
    ) -> PublishSettings:
        """``publish_rate_hz`` (Hz), where a rate at or above the sample rate means every
        sample (decimation 1), as ``sspinn-edge simulate --publish-rate`` takes it."""
        if publish_rate_hz >= sample_rate_hz:
            return cls(decimation=1, batch_size=batch_size)
        return cls(publish_rate_hz=publish_rate_hz, batch_size=batch_size)

    def updated(self, update: PublishSettingsUpdate) -> PublishSettings:
        """These settings with ``update`` applied: a rate replaces a decimation and the
        other way round; what the update leaves out stays."""
        given = update.given()
        data = self.model_dump()
        if "publish_rate_hz" in given:
            data["decimation"] = None
        if "decimation" in given:
            data["publish_rate_hz"] = None
        data.update(given)
        return PublishSettings.model_validate(data)


class PublishSettingsUpdate(BaseModel):
    """A partial change of :class:`PublishSettings` (``cmd/config``): None = unchanged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    publish_rate_hz: PublishRateHz | None = None
    decimation: Decimation | None = None
    batch_size: BatchSize | None = None

    @model_validator(mode="after")
    def _exclusive(self) -> PublishSettingsUpdate:
        _rate_or_decimation(self)
        return self

    def given(self) -> dict[str, Any]:
        """The publish keys that were given."""
        return {
            k: v for k in PublishSettingsUpdate.model_fields if (v := getattr(self, k)) is not None
        }
