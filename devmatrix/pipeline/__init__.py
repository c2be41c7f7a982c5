"""`devmatrix run`: a spec through the ten phases of the seeds, from ingestion to learning,
as a client of the mesh. The mesh owns the data (specs, tasks, files, patterns); the
phases that need a working copy of the generated project (validation, deployment, health
check) run here, where the output directory is."""
