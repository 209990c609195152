"""The photo-tuned model: labelled photo folders, worn garments cut out by their masks, the
refitted dense layers, the logit-lead rule and its threshold, and photos routed to it while
everything else goes to the model asked for."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fmnist_core import photo_head, registry, worn
from fmnist_core.classifier import KerasClassifier
from fmnist_core.prediction import predict, unsure_rule
from fmnist_core.routing import predict_inputs
from fmnist_core.thumbnail import PipelineResult

from hostile import garment
from locations import REPO_ROOT


@pytest.fixture(scope="module")
def bundled():
    """The bundled model: it is in git, so failing to load it is a failure, never a skip."""
    return registry.load_default()


def _photo(colour: tuple[int, int, int], width: int, height: int) -> Image.Image:
    picture = garment(width, height)
    picture[(picture == (150, 30, 40)).all(axis=2)] = colour
    return Image.fromarray(picture)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Six synthetic photos in each of three class folders, a broken file and a folder
    the mapping does not know."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    for name in ("t-shirt", "pants", "hat"):
        (root / name).mkdir()
        for i in range(6):
            colour = tuple(int(v) for v in rng.integers(0, 160, 3))
            _photo(colour, int(rng.integers(90, 160)), 160).save(root / name / f"{i}.png")
    (root / "t-shirt" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "socks").mkdir()
    _photo((20, 20, 20), 120, 160).save(root / "socks" / "0.png")
    return root


def test_a_photo_folder_is_read_with_bad_files_skipped_and_unknown_folders_ignored(photo_folder):
    photos = photo_head.load_photo_set(photo_folder)
    assert photos.images.shape == (18, 28, 28) and photos.images.dtype == np.uint8
    assert sorted(set(photos.folders)) == ["hat", "pants", "t-shirt"]
    assert [name for name, _ in photos.skipped] == [str(photo_folder / "t-shirt" / "broken.jpg")]
    assert photos.out_of_scope.sum() == 6 and photos.mapped.sum() == 12


def test_prepared_photos_are_cached_until_a_photo_changes(photo_folder, tmp_path, monkeypatch):
    import shutil

    from fmnist_core import photo

    folder = tmp_path / "photos"
    shutil.copytree(photo_folder, folder)
    first = photo_head.load_photo_set(folder)
    calls = []
    monkeypatch.setattr(photo, "prepare", lambda image, real=photo.prepare: calls.append(1) or real(image))
    again = photo_head.load_photo_set(folder)
    assert calls == [] and again.files == first.files and again.skipped == first.skipped
    np.testing.assert_array_equal(again.images, first.images)
    _photo((200, 200, 20), 100, 160).save(folder / "pants" / "0.png")  # one photo changes
    changed = photo_head.load_photo_set(folder)
    assert len(calls) == 18 and not np.array_equal(changed.images, first.images)


def test_a_folder_without_class_folders_is_refused_with_the_names_it_wants(tmp_path):
    with pytest.raises(photo_head.PhotoSetError, match="t-shirt"):
        photo_head.load_photo_set(tmp_path)


def test_scores_follow_the_strict_and_loose_definitions():
    photos = photo_head.PhotoSet(
        np.zeros((5, 28, 28), np.uint8), np.array(["t-shirt", "t-shirt", "longsleeve", "shoes", "hat"]), [""] * 5, ""
    )
    labels = np.array([0, 6, 2, 3, 8])  # exact, upper-body, upper-body, wrong, anything
    unsure = np.array([False, False, True, False, True])
    scores = photo_head.score(photos, labels, unsure)
    assert scores.strict == 0.5  # only the t-shirts have a strict class
    assert scores.loose == 0.75  # shoes called a dress are wrong
    assert scores.unsure_out_of_scope == 1.0 and scores.unsure_mapped == 0.25
    assert scores.per_folder["t-shirt"] == {"photos": 2, "unsure": 0.0, "strict": 0.5, "loose": 1.0}


def test_logits_are_what_the_softmax_is_taken_of(bundled):
    plain = KerasClassifier(bundled.model, bundled.kind)
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.float32)
    logits = plain.predict_logits(images)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, plain.predict_proba(images), atol=1e-4)
    assert plain.predict_features(images).shape == (5, 128)


@pytest.fixture(scope="module")
def worn_folder(tmp_path_factory):
    """Two photos of a person: a dark coat over light trousers, and a hat too small to keep."""
    root = tmp_path_factory.mktemp("worn")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    (root / "labels.json").write_text(json.dumps({"0": "null", "1": "coat", "2": "pants", "3": "hat", "4": "skin"}))
    for stem in ("0001", "0002"):
        picture = np.full((200, 120, 3), 200, np.uint8)
        mask = np.zeros((200, 120), np.uint8)
        picture[40:110, 30:90], mask[40:110, 30:90] = (30, 30, 60), 1
        picture[110:190, 35:85], mask[110:190, 35:85] = (170, 170, 150), 2
        mask[10:12, 55:57] = 3
        mask[20:40, 50:70] = 4
        Image.fromarray(picture).save(root / "images" / f"{stem}.jpg")
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
    return root


def test_worn_garments_are_cut_out_by_their_masks_with_their_class(worn_folder, tmp_path):
    garments = worn.load_worn_set(worn_folder)
    assert garments.photos == 2 and sorted(garments.labels.tolist()) == [1, 1, 4, 4]  # no hat
    coat = garments.images[garments.labels == 4][0]
    assert coat.shape == (28, 28) and coat[14, 14] > 150  # dark cloth bright, as in the dataset
    assert coat[:, 0].max() == 0 or coat[0].max() == 0  # the background is not part of it
    with pytest.raises(worn.WornSetError, match="labels.json"):
        worn.load_worn_set(tmp_path)


@pytest.fixture(scope="module")
def fitted(bundled, photo_folder, worn_folder, small_data):
    """The mechanics need no accuracy: 600 dataset images anchor the head instead of 20,000
    (test_photo.py checks the shipped model on real photos)."""
    photos = photo_head.load_photo_set(photo_folder)
    return photos, photo_head.fit_photo_model(bundled, small_data, photos, worn.load_worn_set(worn_folder), folds=2)


def test_the_unsure_threshold_is_the_best_split_that_flags_few_garments(monkeypatch):
    monkeypatch.setattr(photo_head, "MAX_UNSURE_MAPPED", 0.10)
    mapped = np.arange(1.0, 11.0)  # out-of-fold energies of ten photos of garments with a class
    outside = np.array([0.5, 1.5, 2.5, 8.5])  # and of four with none
    # Under 1.75 (midway between 1.5 and 2): one garment (10%, the most allowed) and two of
    # the four others flagged; above 2, half the others but 20% of the garments.
    assert photo_head.choose_threshold(mapped, outside) == 1.75
    # Wholly apart: every one of the others, midway to the lowest garment.
    assert photo_head.choose_threshold(mapped + 100, outside) == 54.75
    monkeypatch.setattr(photo_head, "MAX_UNSURE_MAPPED", 0.20)
    assert photo_head.choose_threshold(mapped, outside) == 2.75  # two garments, three others


@pytest.mark.slow  # refits the photo model's dense layers (the module's `fitted`)
def test_the_refitted_model_keeps_the_convolutions_and_uses_the_logit_lead_rule(bundled, fitted):
    photos, result = fitted
    classifier = result.classifier
    assert classifier.flip_tta and classifier.params == bundled.params
    assert classifier.meta["photo_head"]["worn_garments"] == 4
    conv = lambda model: [w for w in model.weights if "conv1a" in w.path][0]  # noqa: E731
    np.testing.assert_array_equal(np.asarray(conv(classifier.model)), np.asarray(conv(bundled.model)))
    rule = unsure_rule(classifier)
    assert rule["rule"] == "logit_lead" and rule["threshold"] == pytest.approx(result.threshold, abs=1e-4)
    oof = classifier.meta["photo_head"]["out_of_fold"]
    assert all(0 <= oof[key] <= 1 for key in ("strict", "loose", "unsure_out_of_scope", "unsure_mapped"))
    logits = classifier.predict_logits(photos.images)
    flags = [p.unsure for p in predict(classifier, photos.images)]
    assert flags == list(logits.max(axis=1) - logits.mean(axis=1) < rule["threshold"])
    assert sum(flags) not in (0, len(flags))  # the threshold splits these photos


@pytest.mark.slow  # refits the photo model's dense layers (the module's `fitted`)
def test_the_photos_a_model_was_fitted_on_are_known_by_content(bundled, fitted, tmp_path):
    photos, result = fitted
    assert photo_head.fitted_on(result.classifier, photos.files) == len(photos.files)
    assert photo_head.fitted_on(bundled, photos.files) == 0
    copy = tmp_path / "elsewhere.png"  # the same photo in another checkout
    copy.write_bytes(open(photos.files[0], "rb").read())
    other = tmp_path / "other.png"
    _photo((1, 2, 3), 100, 100).save(other)
    assert photo_head.fitted_on(result.classifier, [str(copy), str(other)]) == 1
    older = KerasClassifier(
        result.classifier.model,
        result.classifier.kind,  # before digests
        meta={"photo_head": {"folder": "/elsewhere/photos/dev"}},
    )
    assert photo_head.fitted_on(older, photos.files) is None


@pytest.mark.slow  # refits the photo model's dense layers (the module's `fitted`)
def test_the_photo_model_survives_a_registry_round_trip(fitted, models_dir):
    photos, result = fitted
    registry.save(result.classifier, "photo")
    loaded = registry.load("photo")
    assert unsure_rule(loaded)["rule"] == "logit_lead" and loaded.flip_tta
    np.testing.assert_allclose(
        loaded.predict_proba(photos.images), result.classifier.predict_proba(photos.images), atol=1e-5
    )


@pytest.mark.slow  # refits the photo model's dense layers (the module's `fitted`)
def test_photos_go_to_the_photo_model_and_the_rest_to_the_model_asked_for(bundled, fitted):
    photos, result = fitted
    inputs = [
        PipelineResult(photos.images[0], kind="photo"),
        PipelineResult(photos.images[1], kind="sketch"),
        PipelineResult(photos.images[2], kind="photo"),
    ]
    routed = predict_inputs(bundled, inputs, result.classifier)
    by_photo_model = predict(result.classifier, photos.images[[0, 2]])
    by_bundled = predict(bundled, photos.images[[1]])
    assert [p.probabilities.tolist() for p in routed] == [
        by_photo_model[0].probabilities.tolist(),
        by_bundled[0].probabilities.tolist(),
        by_photo_model[1].probabilities.tolist(),
    ]
    alone = predict_inputs(bundled, inputs)  # no photo model: one model for all
    assert [p.probabilities.tolist() for p in alone] == [
        p.probabilities.tolist() for p in predict(bundled, photos.images[:3])
    ]
    assert predict_inputs(bundled, [], result.classifier) == []


@pytest.mark.slow
def test_the_photo_model_command_reports_figures_and_saves(photo_folder, worn_folder, models_dir):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "fmnist_core",
            "photo-model",
            "--photos",
            str(photo_folder),
            "--worn",
            str(worn_folder),
            "--dev",
            str(photo_folder),
            "--folds",
            "2",
            "--name",
            "tuned",
            "--json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["photos"] == 18 and result["skipped"] == 1 and result["worn_garments"] == 4
    assert 0 <= result["out_of_fold"]["strict"] <= 1 and 0.8 <= result["test_accuracy"] <= 1
    saved = registry.load("tuned")
    assert saved.meta["photo_head"]["folder"] == str(photo_folder.resolve())
    assert saved.meta["metrics"]["accuracy"] == pytest.approx(result["test_accuracy"])
    # The figures stored for the development folder are what the saved model does there.
    measured = photo_head.measure(saved, photo_head.load_photo_set(photo_folder))
    assert saved.meta["photo_head"]["dev"]["strict"] == pytest.approx(measured.strict, abs=1e-4)
    assert result["dev"]["unsure_mapped"] == pytest.approx(measured.unsure_mapped, abs=1e-4)


def test_folders_that_cannot_tune_a_model_are_refused_with_the_reason(tmp_path, photo_folder, bundled, real_data):
    unreadable = tmp_path / "unreadable"
    (unreadable / "pants").mkdir(parents=True)
    (unreadable / "pants" / "a.png").write_bytes(b"not a png")
    with pytest.raises(photo_head.PhotoSetError, match="none of the 1 photos"):
        photo_head.load_photo_set(unreadable)
    no_out_of_scope = tmp_path / "garments-only"
    (no_out_of_scope / "pants").mkdir(parents=True)
    _photo((10, 10, 90), 100, 160).save(no_out_of_scope / "pants" / "a.png")
    with pytest.raises(photo_head.PhotoSetError, match="hat, shorts, skirt"):
        photo_head.load_photo_set(no_out_of_scope)
    with pytest.raises(photo_head.PhotoSetError, match="does not exist"):
        photo_head.load_photo_set(tmp_path / "nowhere")
    photos = photo_head.load_photo_set(photo_folder)
    with pytest.raises(photo_head.PhotoSetError, match="2 to 6 folds"):
        photo_head.fit_photo_model(bundled, real_data, photos, folds=1)


@pytest.mark.slow  # refits the photo model's dense layers (the module's `fitted`)
def test_an_empty_batch_gets_no_predictions_from_the_photo_model(fitted):
    _, result = fitted
    assert result.classifier.predict_logits(np.zeros((0, 28, 28))).shape == (0, 10)
    assert predict(result.classifier, np.zeros((0, 28, 28))) == []


@pytest.mark.slow  # refits the photo model's dense layers (the module's `fitted`)
def test_a_photo_model_tuned_from_another_bundled_model_is_not_used(fitted, tmp_path, monkeypatch):
    from fmnist_core import paths

    _, result = fitted
    monkeypatch.setattr(paths, "ASSETS_DIR", tmp_path)
    bundled_meta = registry.read_entry(registry.save(result.classifier, registry.DEFAULT_MODEL, folder=tmp_path)).meta
    monkeypatch.setitem(result.classifier.meta, "trunk_saved_at", bundled_meta["saved_at"])
    registry.save(result.classifier, registry.PHOTO_MODEL, folder=tmp_path)
    assert photo_head.photo_classifier_or_none() is not None
    registry.save(result.classifier, registry.DEFAULT_MODEL, folder=tmp_path, overwrite=True)
    assert photo_head.photo_classifier_or_none() is None  # the bundled model was remade
