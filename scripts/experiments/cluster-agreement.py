"""How well a clustering recovers the true classes, for the experiment docs.

    python3 scripts/experiments/cluster-agreement.py <clusters folder> [...]

For each `*_train_*_labels.npy` (with its `_images.npy`) in each folder: the number of clusters, the
normalised mutual information with the class (the image's parent folder), and purity (the share of
images whose cluster's majority class is their own). The labels were made without the classes; this
only reads them afterwards.
"""

import glob
import os
import sys

import numpy as np
from sklearn.metrics import normalized_mutual_info_score


def agreement(labels_file):
    images = np.load(labels_file.replace("_labels.npy", "_images.npy"))
    clusters = np.load(labels_file)
    classes = np.unique([os.path.basename(os.path.dirname(str(p))) for p in images], return_inverse=True)[1]
    counts = np.zeros((clusters.max() + 1, classes.max() + 1), dtype=np.int64)
    np.add.at(counts, (clusters, classes), 1)
    purity = counts.max(axis=1).sum() / len(clusters)
    return len(np.unique(clusters)), normalized_mutual_info_score(classes, clusters), purity


def main():
    print("| clusters | K | NMI with the classes | purity |")
    print("| --- | ---: | ---: | ---: |")
    for folder in sys.argv[1:]:
        for labels_file in sorted(glob.glob(os.path.join(folder, "*_train_*_labels.npy"))):
            k, nmi, purity = agreement(labels_file)
            print(f"| {os.path.basename(labels_file)} | {k} | {nmi:.3f} | {100 * purity:.1f}% |")


if __name__ == "__main__":
    main()
