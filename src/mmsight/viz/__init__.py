"""Figures (matplotlib, Agg backend): radar maps, point clouds, skeletons."""
