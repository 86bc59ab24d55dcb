"""The reference Imagen cascade (Saharia et al., 2022)."""
