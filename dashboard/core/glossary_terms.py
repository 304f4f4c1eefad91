"""The Glossary's entries: the lecture's words, and every score and mark a page shows, in plain
language. Pages link to an entry with `/glossary?find=<word>`."""

TERMS = {
    "Accuracy": (
        "The share of digits the model labels correctly. Read it on the validation set while choosing "
        "settings, and on the test set once, at the end."
    ),
    "Activation": (
        "What a unit does to its weighted sum before passing it on, e.g. ReLU keeps positives and turns "
        "negatives into 0. Without it, stacking layers adds nothing."
    ),
    "Attribution map": (
        "A picture over the input that gives each pixel a score: how much it pushed the model towards (red) "
        "or away from (blue) an answer. Also called a heatmap or saliency map."
    ),
    "Baseline": (
        "The 'nothing here' image an explanation compares with; on NetLens a black image (no ink). A black "
        "baseline cannot give credit for ink that is missing."
    ),
    "Batch": (
        "The handful of examples (e.g. 64) the net looks at before each small update of its weights."
    ),
    "Bias": "A number added to a weighted sum, so a unit can switch on even when its inputs are small.",
    "Calibration": (
        "Whether a model's stated confidence matches how often it is right: of the answers given “80% sure”, "
        "about 80% should be right."
    ),
    "Confusion matrix": (
        "A table of counts: one row per true digit, one column per predicted digit. The diagonal is right; "
        "every other cell is a kind of mistake (e.g. 4s read as 9s)."
    ),
    "Contrast class": (
        "The B in “why A and not B?”: the map then shows what pushes the score of A above the score of B."
    ),
    "Convolution": (
        "Sliding a kernel over a picture and, at every position, adding up pixel × weight. Deep learning's "
        "version does not flip the kernel (mathematicians call that cross-correlation)."
    ),
    "Cross-entropy": (
        "The loss for classification: −log of the probability the net gave the right answer. Sure and right: "
        "near 0. Sure and wrong: large."
    ),
    "Deletion curve": (
        "A test of an explanation: remove the pixels it calls most important first and watch the model's "
        "confidence; a good map makes it fall faster than a random order (a smaller area under the curve)."
    ),
    "Dropout": (
        "While training, switching off a random share of units at each step, so the net cannot lean on any "
        "one of them; it fights overfitting. Switched off when the model is used."
    ),
    "Epoch": "One pass over all the training examples.",
    "Expected calibration error": (
        "The average gap between stated confidence and actual accuracy, over groups of answers with similar "
        "confidence, weighted by group size. 0 is perfect."
    ),
    "Explained variance": (
        "How much of the data's spread a PCA map keeps (100% = all). Low values mean the flat picture leaves "
        "out a lot."
    ),
    "Explanation by example": (
        "Showing the training examples the model finds most similar to this input — in its last hidden layer, "
        "or in pixels for a model without one."
    ),
    "Feature map": (
        "A convnet layer's output for one learned kernel: a picture that is bright where the kernel found its "
        "pattern."
    ),
    "GPU": (
        "A graphics chip that does thousands of multiplications at once; it makes training and t-SNE much "
        "faster."
    ),
    "Hidden layer": (
        "A layer between the input and the output. Its units compute new features the output layer uses."
    ),
    "Integrated Gradients": (
        "An explanation that fades the input in from a baseline (black) and adds up, pixel by pixel, how the "
        "answer's score changes on the way. The scores add up to the total change (completeness)."
    ),
    "k-NN accuracy": (
        "A separation score: how often the 5 nearest other digits (in a layer's numbers, or on the map) share "
        "a digit's true label. High means the digits are pulled apart."
    ),
    "Kernel": (
        "A small grid of weights (e.g. 3×3) slid over a picture. A blur kernel averages; an edge kernel "
        "responds where brightness changes. A convnet learns its kernels."
    ),
    "Learning rate": (
        "How big a step each update takes. Too big and learning jumps around; too small and it crawls."
    ),
    "Logits": (
        "The raw scores the last layer gives each class, before softmax turns them into probabilities."
    ),
    "Loss": "One number saying how wrong the net is on some examples. Training makes it smaller.",
    "Max-pooling": (
        "Keeping only the largest value in each 2×2 block, which halves a picture's width and height."
    ),
    "Nearest examples": (
        "The training digits closest to this one in the model's own representation; their labels hint at why "
        "it answers as it does."
    ),
    "Occlusion": (
        "An explanation that covers the input with a small patch, everywhere in turn, and records how much "
        "the answer's score drops. Simple, slow without batching, and hard to fool."
    ),
    "× on a map": "A digit the model predicted wrong, drawn as a cross in its true label's colour.",
    "Optimizer": (
        "The rule that turns the gradient into a weight update. SGD steps straight down the slope; Adam "
        "adapts the step size for each weight."
    ),
    "Overfitting": (
        "Learning the training examples by heart instead of the pattern: training accuracy keeps rising while "
        "validation accuracy stalls or falls."
    ),
    "Padding": (
        "Extra pixels (zeros here) around a picture's border so the kernel can be centred on edge pixels and "
        "the output keeps the input's size."
    ),
    "Parameter": (
        "A number the net learns: every weight and bias. Logistic regression on 28×28 digits has 7,850."
    ),
    "PCA": (
        "Principal component analysis: looks at the data from the angle where it is most spread out and keeps "
        "the two most telling directions."
    ),
    "Perplexity": (
        "A t-SNE setting: roughly how many neighbours each point pays attention to (typically 5–50)."
    ),
    "Rank correlation": (
        "How alike two lists are in their order, from −1 to 1 (Spearman): 1 means the same pixels come first "
        "in both maps, near 0 means the orders are unrelated."
    ),
    "Referral": (
        "Sending a case to a person instead of deciding automatically — here, when the model's top "
        "probability is below a threshold you choose."
    ),
    "Reliability diagram": (
        "A plot of stated confidence against actual accuracy; a perfectly calibrated model lies on the "
        "diagonal."
    ),
    "Representation": (
        "The list of numbers that stands for an input at some layer. Each layer re-describes the input; good "
        "representations put similar things close together."
    ),
    "Robustness": (
        "Whether a model's accuracy holds up when the inputs change a little: thinner or thicker strokes, a "
        "rotation, a shift, blur or noise."
    ),
    "Sanity check": (
        "A test of an explanation method (Adebayo et al., 2018): the same map from a model with random "
        "weights. If it looks the same, the map is not explaining what the model learned. NetLens fails a map "
        "when the two maps rank the digit's ink alike (Spearman |ρ| ≥ 0.5, of the absolute or of the signed maps)."
    ),
    "Seed": (
        "A number that fixes every random choice (the data split, the starting weights, the order of "
        "examples), so the same seed gives the same result."
    ),
    "Softmax": (
        "Turns scores into probabilities that are positive and add up to 1; the biggest score gets the "
        "biggest probability."
    ),
    "Stride": (
        "How many pixels the kernel jumps between positions. Stride 2 halves the output's width and height."
    ),
    "t-SNE": (
        "A way to draw high-dimensional points on a flat map so that near neighbours stay near. Cluster sizes "
        "and the distances between clusters mean little."
    ),
    "Temperature scaling": (
        "Dividing every score by one number T before softmax, with T fitted on validation data; T above 1 "
        "tames an over-confident model. The answers do not change, only how sure they are."
    ),
    "Test set": (
        "Examples kept aside and used once, at the end, to measure how well the net does on new data."
    ),
    "Test ledger": (
        "NetLens's count of how often this session looked at the test set (every revealed test score is one "
        "look). Each look that sways a choice makes the test score a little less of a final check; a new "
        "browser tab starts a new count."
    ),
    "Threshold": (
        "The cut-off on the referral dial: cases the model is less sure about than this go to a person."
    ),
    "Trustworthiness": (
        "A score for a map (1 = perfect): are each dot's neighbours on the flat map also its neighbours in "
        "the layer's own numbers? Low values mean the map invents closeness."
    ),
    "Validation set": "Examples kept aside from training to compare settings (learning rate, epochs, layers).",
    "Weight": (
        "A number that says how much one input counts in a weighted sum. Learning means adjusting weights."
    ),
    "Weight × pixel": (
        "For logistic regression, the exact share of each pixel in a class's score: its weight times its "
        "value. The gradient of such a model is its weight template, the same for every image."
    ),
}
