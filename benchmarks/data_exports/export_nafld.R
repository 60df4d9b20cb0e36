# Exports the bundled `nafld` dataset (src/synthpatient/datasets/data/nafld_*.csv) from R's
# `survival` package (Debian: r-base-core, r-cran-survival 3.5-3; LGPL-2+), once:
#   Rscript benchmarks/data_exports/export_nafld.R   (run inside datasets/data/)
# Data: Allen AM et al., "Nonalcoholic fatty liver disease incidence and impact on metabolic
# burden and death: a 20 year-community study", Hepatology 2018 (Rochester Epidemiology
# Project), as released in survival's nafld1/nafld2/nafld3.
# - patients: nafld1 rows with id <= 1000 (998 patients), unchanged.
# - labs: nafld2 of those patients, one row per (id, days) with a column per test (R's
#   reshape keeps the first value when a test repeats on a day). In survival 3.5-3 every
#   `chol` value equals the `hdl` value of the same day and every `dbp` the `sbp` (a defect
#   of that release; the medians, 48 mg/dL and 136 mmHg, read as HDL and systolic), so
#   chol and dbp are left out.
# - diagnoses: nafld3 of those patients (id, days, event), unchanged.
library(survival)
keep <- nafld1$id[nafld1$id <= 1000]
p <- nafld1[nafld1$id %in% keep, ]
p <- p[order(p$id), ]
write.csv(p, "nafld_patients.csv", row.names=FALSE)
l <- nafld2[nafld2$id %in% keep, ]
w <- reshape(l, idvar=c("id","days"), timevar="test", direction="wide")
names(w) <- sub("^value\\.", "", names(w))
w <- w[order(w$id, w$days), c("id","days","hdl","sbp","fib4","smoke")]
write.csv(w, "nafld_labs.csv", row.names=FALSE, na="")
d <- nafld3[nafld3$id %in% keep, ]
d <- d[order(d$id, d$days), ]
write.csv(d, "nafld_diagnoses.csv", row.names=FALSE)
cat(nrow(p), nrow(w), nrow(d), "\n")
