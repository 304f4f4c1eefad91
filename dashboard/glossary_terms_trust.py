"""Glossary entries for the Trust page's words, to be merged into the Glossary's TERMS
(same form: term -> one or two plain sentences)."""
from __future__ import annotations

TERMS = {
    "Attribution map": "A picture over the input that gives each pixel a score: how much it pushed the model "
                       "towards (red) or away from (blue) an answer. Also called a heatmap or saliency map.",
    "Baseline": "The 'nothing here' image an explanation compares with; on NetLens a black image (no ink). A black "
                "baseline cannot give credit for ink that is missing.",
    "Calibration": "Whether a model's stated confidence matches how often it is right: of the answers given "
                   "“80% sure”, about 80% should be right.",
    "Contrast class": "The B in “why A and not B?”: the map then shows what pushes the score of A above the score "
                      "of B.",
    "Deletion curve": "A test of an explanation: remove the pixels it calls most important first and watch the "
                      "model's confidence; a good map makes it fall faster than a random order (a smaller area "
                      "under the curve).",
    "Expected calibration error": "The average gap between stated confidence and actual accuracy, over groups of "
                                  "answers with similar confidence, weighted by group size. 0 is perfect.",
    "Explanation by example": "Showing the training examples the model finds most similar to this input — in its "
                              "last hidden layer, or in pixels for a model without one.",
    "Integrated Gradients": "An explanation that fades the input in from a baseline (black) and adds up, pixel "
                            "by pixel, how the answer's score changes on the way. The scores add up to the total "
                            "change (completeness).",
    "Nearest examples": "The training digits closest to this one in the model's own representation; their labels "
                        "hint at why it answers as it does.",
    "Occlusion": "An explanation that covers the input with a small patch, everywhere in turn, and records how much "
                 "the answer's score drops. Simple, slow without batching, and hard to fool.",
    "Rank correlation": "How alike two lists are in their order, from −1 to 1 (Spearman): 1 means the same pixels "
                        "come first in both maps, near 0 means the orders are unrelated.",
    "Referral": "Sending a case to a person instead of deciding automatically — here, when the model's top "
                "probability is below a threshold you choose.",
    "Reliability diagram": "A plot of stated confidence against actual accuracy; a perfectly calibrated model lies "
                           "on the diagonal.",
    "Robustness": "Whether a model's accuracy holds up when the inputs change a little: thinner or thicker strokes, "
                  "a rotation, a shift, blur or noise.",
    "Sanity check": "A test of an explanation method (Adebayo et al., 2018): the same map from a model with random "
                    "weights. If it looks the same, the map is not explaining what the model learned.",
    "Temperature scaling": "Dividing every score by one number T before softmax, with T fitted on validation data; "
                           "T above 1 tames an over-confident model. The answers do not change, only how sure "
                           "they are.",
    "Threshold": "The cut-off on the referral dial: cases the model is less sure about than this go to a person.",
    "Weight × pixel": "For logistic regression, the exact share of each pixel in a class's score: its weight times "
                      "its value. The gradient of such a model is its weight template, the same for every image.",
}
