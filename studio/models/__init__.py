"""Model builders. Importing this registers the studio's layers for `.keras` loading."""

from studio.models.vit import attention_scores, build_vit, lsa_temperatures

__all__ = ["attention_scores", "build_vit", "lsa_temperatures"]
