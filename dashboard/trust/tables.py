"""The Trust page, parts 2 and 3: "How sure is 99% sure?" (calibration and referral, fitted on
validation digits, reported on test digits) and "Does it hold up?" (seven alterations)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analysis import calibration as cal
from analysis import robustness as rb
from analysis.explain import logits
from dashboard.core import alt_images, chrome, figures, formats
from dashboard.trust import cache, controls, summaries
from dashboard.trust import figures as tf
from dashboard.trust.state import TrustState
from dashboard.trust.view import grid

NO_BAR = {"displayModeBar": False}
PHOTO_CAVEAT = ("**A caveat.** These numbers come from scanned test digits. Phone photos differ (light, blur, "
                "pen, paper): a model well calibrated on scans can be over-confident on photos. Add a few photos "
                "of digits you wrote, with their true labels, and check.")


def _csv(rows) -> bytes:
    return pd.DataFrame(rows).to_csv(index=False).encode()


def _report(out: cache.Outputs, costs: tuple[float, float]) -> tuple[cal.CalibrationReport, str | None]:
    """The report with the user's costs; with bad costs, the message and a report for the rest."""
    try:
        return cal.calibration_report(out.val_logits, out.val_labels, out.test_logits, out.test_labels, *costs), None
    except ValueError as e:
        report = cal.calibration_report(out.val_logits, out.val_labels, out.test_logits, out.test_labels)
        return report, str(e)


def sure_tab(ts: TrustState, models: dict) -> None:
    name = controls.calibration_model_ui(list(models))
    sm = models[name]
    if not cache.has_split(sm):
        st.info(f"{name}: {cal.NO_VALIDATION}", icon=":material/block:")
        st.markdown(PHOTO_CAVEAT)
        return
    out = cache.outputs(sm)
    top, middle, bottom = st.container(), st.container(), st.container()
    with bottom:  # drawn first (the report needs the costs), shown last
        st.subheader("Which threshold costs least?")
        st.markdown("Fill in what each kind of case costs you. The threshold with the lowest total cost is chosen "
                    "on the **validation** digits, then reported on the **test** digits.")
        costs = controls.costs_ui()
        report, cost_error = _report(out, costs)
        if cost_error:
            st.error(cost_error, icon=":material/error:")
        else:
            cost_ui(report, costs)
    with top:
        reliability_ui(report, len(out.test_labels), len(out.val_labels))
    with middle:
        referral_ui(report)
    st.markdown(PHOTO_CAVEAT)
    photo_set_check(ts, sm, report.temperature)


def reliability_ui(report: cal.CalibrationReport, n_test: int, n_val: int) -> None:
    st.subheader("Stated confidence against actual accuracy")
    st.markdown(f"When the model says “90% sure”, is it right 9 times in 10? Each dot is a group of the {n_test} "
                "**test** digits with similar confidence. **Temperature scaling** divides every score by one number "
                f"T, fitted on the {n_val} **validation** digits, so the confidence matches the accuracy better.")
    figures.chart(st, tf.reliability_figure(report.before, report.after, report.temperature),
                  summaries.reliability(report.before, report.after, report.temperature), config=NO_BAR,
                  key="trust_reliability")
    a, b, c = st.columns(3)
    a.metric("Expected calibration error, as trained", formats.ece(report.before.ece),
             help="The average gap between stated confidence and actual accuracy, weighted by digits (0 is perfect).")
    b.metric("… after temperature scaling", formats.ece(report.after.ece),
             delta=formats.ece_change(report.before.ece, report.after.ece), delta_color="inverse")
    c.metric("Temperature T (from validation digits)", formats.decimals2(report.temperature),
             help="Above 1: the model was over-confident; below 1: under-confident.")
    st.caption(f"Test negative log-likelihood {report.nll_before:.3f} → {report.nll_after:.3f} (lower is better).")
    rows = [{"version": v, "bin from": rel.edges[k], "bin to": rel.edges[k + 1], "digits": int(rel.counts[k]),
             "mean confidence": rel.confidence[k], "accuracy": rel.accuracy[k]}
            for v, rel in (("as trained", report.before), ("temperature scaled", report.after))
            for k in range(len(rel.counts))]
    st.download_button("Reliability table (CSV)", data=_csv(rows), file_name="netlens-reliability.csv",
                       mime="text/csv", key="trust_dl_reliability", icon=":material/download:",
                       help="The bins of the diagram: digits, mean confidence and accuracy, before and after.")


def referral_ui(report: cal.CalibrationReport) -> None:
    st.subheader("Refer to a person")
    t = controls.dial_ui()
    curve = report.test_curve
    k = int(np.argmin(np.abs(curve.thresholds - t)))
    figures.chart(st, tf.referral_figure(curve, t), summaries.referral(curve, t), config=NO_BAR, key="trust_referral")
    a, b = st.columns(2)
    a.metric("Test digits referred to a person", formats.accuracy(curve.share_referred[k]))
    acc = curve.accuracy_automatic[k]
    b.metric("Accuracy on the digits decided automatically", "none left" if np.isnan(acc) else formats.accuracy(acc))
    rows = [{"threshold": curve.thresholds[i], "share referred": curve.share_referred[i],
             "accuracy automatic": curve.accuracy_automatic[i], "referred": int(curve.n_referred[i]),
             "wrong automatic": int(curve.n_wrong_automatic[i])} for i in range(len(curve.thresholds))]
    st.download_button("Referral table (CSV)", data=_csv(rows), file_name="netlens-referral-test.csv",
                       mime="text/csv", key="trust_dl_referral", icon=":material/download:",
                       help="Every threshold: share referred and accuracy on the rest (test digits, calibrated).")


def cost_ui(report: cal.CalibrationReport, costs: tuple[float, float]) -> None:
    val_cost = cal.cost_per_digit(report.validation_curve, *costs)
    test_cost = cal.cost_per_digit(report.test_curve, *costs)
    figures.chart(st, tf.cost_figure(report.validation_curve.thresholds, val_cost, test_cost, report.threshold),
                  summaries.cost(report.validation_curve.thresholds, val_cost, test_cost, report.threshold),
                  config=NO_BAR, key="trust_cost")
    p = report.test_point
    acc = "none left" if np.isnan(p.accuracy_automatic) else formats.accuracy(p.accuracy_automatic)
    st.markdown(f"Chosen on the **validation** digits: refer below **t = {report.threshold:.2f}**. On the **test** "
                f"digits that refers **{formats.accuracy(p.share_referred)}**, is right on **{acc}** of the rest, and "
                f"costs "
                f"**{p.cost_per_digit:.3f}** per digit.")
    best_test = float(report.test_curve.thresholds[int(np.argmin(test_cost))])
    st.caption(f"Choosing t on the test digits themselves (t = {best_test:.2f}) would look at least as good — "
               "that is the trap: the test digits would then be grading their own answer key.")
    rows = [{"threshold": t, "cost per digit, validation": v, "cost per digit, test": w}
            for t, v, w in zip(report.validation_curve.thresholds, val_cost, test_cost)]
    st.download_button("Cost table (CSV)", data=_csv(rows), file_name="netlens-costs.csv", mime="text/csv",
                       key="trust_dl_costs", icon=":material/download:",
                       help="The mean cost per digit at every threshold, validation and test.")


def photo_set_check(ts: TrustState, sm, temperature: float) -> None:

    with st.expander(f"Your own photos ({len(ts.photos)})", expanded=bool(ts.photos)):
        controls.photo_set_ui(ts, sm.trained.image_shape[0], sm.trained.class_names)
        if not ts.photos:
            return
        x = np.stack([p for p, _ in ts.photos])
        y = np.array([label for _, label in ts.photos])
        probs = cal.softmax(logits(sm.trained.model, x), temperature)
        pred, conf = probs.argmax(1), probs.max(1)
        st.markdown(f"On your {len(y)} photo(s): **{formats.accuracy((pred == y).mean())} right**, stated confidence "
                    f"**{formats.probability(conf.mean())}** on average (calibrated). A large gap means the test-digit "
                    "numbers above "
                    "do not carry over to your photos.")
        names = sm.trained.class_names
        st.caption("Under each: the model's answer (the true digit), and how sure it is.")
        alt_images.show(st, [figures.enlarge((p * 255).astype(np.uint8), 84) for p, _ in ts.photos], width=84,
                        alt=[f"Your photo of a {names[b]}, read as {names[a]} ({formats.probability(c)} sure)"
                             for a, b, c in zip(pred, y, conf)],
                        caption=[f"{names[a]} ({names[b]}) {formats.probability(c)}"
                                 for a, b, c in zip(pred, y, conf)])


# ---------------------------------------------------------------- does it hold up?

def holdup_tab(ts: TrustState, models: dict, image: np.ndarray | None) -> None:
    table, images, ds, left_out = cache.robustness(models)
    if left_out:
        st.info(f"Left out (no test digits on this server, or other test digits): {', '.join(left_out)}.",
                icon=":material/block:")
    if table is None:
        return
    if image is not None and image.shape == images.shape[1:]:
        pics = [("original", tf.overlay_rgb(image, None))] + [
            (rb.label(a), tf.overlay_rgb(rb.alter(image, a)[0], None)) for a in rb.ALTERATIONS]
        st.markdown("The seven alterations, on the digit you are explaining:")
        grid([("", pics)], side=112)
        st.caption(" · ".join(f"**{label}**: {what}" for label, what in rb.ALTERATIONS.values()))
    labels = [rb.label(a) for a in table.alterations]
    st.subheader(f"Accuracy on {formats.count(len(table.labels))} test digits, altered seven ways")
    figures.chart(st, tf.robustness_figure(table, labels), summaries.robustness(table, labels), config=NO_BAR,
                  key="trust_robustness")
    frame = pd.DataFrame(table.accuracy.T, index=labels, columns=list(table.models))  # narrow: fits a phone
    if chrome.presenting():  # plain HTML: the projector's type size reaches it
        st.table(frame.map(formats.accuracy))
    else:
        st.dataframe(frame.style.format(formats.accuracy))
    st.download_button("Robustness table (CSV)", data=_csv(table.rows()), file_name="netlens-robustness.csv",
                       mime="text/csv", key="trust_dl_robustness", icon=":material/download:",
                       help="Accuracy of every model on every version of the test digits.")
    per_class_ui(table, ds.class_names)
    disagreement_ui(table, images, ds.class_names)


def per_class_ui(table: rb.RobustnessTable, class_names) -> None:
    st.subheader("Which digits it fails")
    version = st.selectbox("Version of the test digits", table.alterations, format_func=rb.label,
                           key="trust_class_version", help="The digits as they are, or one altered copy.")
    acc = rb.per_class_accuracy(table, len(class_names))[:, table.alterations.index(version)]
    figures.chart(st, tf.per_class_figure(acc, table.models, class_names, f"Share read correctly: {rb.label(version)}",
                                          tall=chrome.presenting()),
                  summaries.per_class(acc, table.models, class_names, rb.label(version)), config=NO_BAR,
                  key="trust_per_class")
    st.download_button("Per-digit accuracy (CSV)", data=_csv(rb.per_class_rows(table, list(class_names))),
                       file_name="netlens-per-digit.csv", mime="text/csv", key="trust_dl_per_class",
                       icon=":material/download:", help="Every model, version and digit.")


def disagreement_ui(table: rb.RobustnessTable, images: np.ndarray, class_names) -> None:
    st.subheader("Where two models disagree")
    if len(table.models) < 2:
        st.info("Pick two or more models to compare them.")
        return
    a, b, version = controls.pair_ui(table.models, table.alterations)
    try:
        d = rb.disagreements(table, a, b, version)
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        return
    st.markdown(f"They answer differently on **{len(d.indices)}** of {len(table.labels)} digits "
                f"(**{formats.accuracy(d.share)}**); there, A is right {d.a_right} times and B {d.b_right} times.")
    if len(d.indices):
        x = images[d.indices[:24]]
        x = x if version == rb.ORIGINAL else rb.alter(x, version)  # (the noise drawn afresh for these)
        st.caption("Under each: A's answer / B's answer (the true digit).")
        trio = list(zip(d.predictions_a[:24], d.predictions_b[:24], d.labels[:24]))
        alt_images.show(st, [figures.enlarge((np.clip(p, 0, 1) * 255).astype(np.uint8), 84) for p in x], width=84,
                        alt=[f"Digit {class_names[t]}: model A reads {class_names[p]}, model B reads {class_names[q]}"
                             for p, q, t in trio],
                        caption=[f"{class_names[p]} / {class_names[q]} ({class_names[t]})" for p, q, t in trio])
    rows = [{"test digit": int(i), "model A": class_names[p], "model B": class_names[q], "true": class_names[t]}
            for i, p, q, t in zip(d.indices, d.predictions_a, d.predictions_b, d.labels)]
    st.download_button("Disagreements (CSV)", data=_csv(rows or [{"test digit": None}]),
                       file_name="netlens-disagreements.csv", mime="text/csv", key="trust_dl_disagree",
                       icon=":material/download:", help="Every digit where the two models answer differently.")
