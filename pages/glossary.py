"""Glossary: the lecture's words in plain language."""
import streamlit as st

TERMS = {
    "Activation": "What a unit does to its weighted sum before passing it on, e.g. ReLU keeps positives and turns "
                  "negatives into 0. Without it, stacking layers adds nothing.",
    "Batch": "The handful of examples (e.g. 64) the net looks at before each small update of its weights.",
    "Bias": "A number added to a weighted sum, so a unit can switch on even when its inputs are small.",
    "Convolution": "Sliding a kernel over a picture and, at every position, adding up pixel × weight. Deep "
                   "learning's version does not flip the kernel (mathematicians call that cross-correlation).",
    "Cross-entropy": "The loss for classification: −log of the probability the net gave the right answer. "
                     "Sure and right: near 0. Sure and wrong: large.",
    "Epoch": "One pass over all the training examples.",
    "GPU": "A graphics chip that does thousands of multiplications at once; it makes training and t-SNE much faster.",
    "Hidden layer": "A layer between the input and the output. Its units compute new features the output layer uses.",
    "Kernel": "A small grid of weights (e.g. 3×3) slid over a picture. A blur kernel averages; an edge kernel "
              "responds where brightness changes. A convnet learns its kernels.",
    "Learning rate": "How big a step each update takes. Too big and learning jumps around; too small and it crawls.",
    "Logits": "The raw scores the last layer gives each class, before softmax turns them into probabilities.",
    "Loss": "One number saying how wrong the net is on some examples. Training makes it smaller.",
    "Overfitting": "Learning the training examples by heart instead of the pattern: training accuracy keeps rising "
                   "while validation accuracy stalls or falls.",
    "Padding": "Extra pixels (zeros here) around a picture's border so the kernel can be centred on edge pixels "
               "and the output keeps the input's size.",
    "Parameter": "A number the net learns: every weight and bias. Logistic regression on 28×28 digits has 7,850.",
    "PCA": "Principal component analysis: looks at the data from the angle where it is most spread out and "
           "keeps the two most telling directions.",
    "Perplexity": "A t-SNE setting: roughly how many neighbours each point pays attention to (typically 5–50).",
    "Representation": "The list of numbers that stands for an input at some layer. Each layer re-describes the "
                      "input; good representations put similar things close together.",
    "Softmax": "Turns scores into probabilities that are positive and add up to 1; the biggest score gets the "
               "biggest probability.",
    "Stride": "How many pixels the kernel jumps between positions. Stride 2 halves the output's width and height.",
    "t-SNE": "A way to draw high-dimensional points on a flat map so that near neighbours stay near. Cluster sizes "
             "and the distances between clusters mean little.",
    "Test set": "Examples kept aside and used once, at the end, to measure how well the net does on new data.",
    "Validation set": "Examples kept aside from training to compare settings (learning rate, epochs, layers).",
    "Weight": "A number that says how much one input counts in a weighted sum. Learning means adjusting weights.",
}

st.title("Glossary")
st.markdown("The words used in the lecture and in NetLens, in plain language.")
query = st.text_input("Find a word", key="glossary_find", placeholder="e.g. softmax",
                      help="Type part of a word or of its explanation.").strip().lower()
shown = {t: d for t, d in TERMS.items() if query in t.lower() or query in d.lower()}
if not shown:
    st.info(f"No entry mentions “{query}”.")
for term, definition in shown.items():
    st.markdown(f"**{term}** — {definition}")
