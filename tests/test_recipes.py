"""The bundled recipes are their papers' recipes: every augmentation, evaluation transform and
schedule pinned against the paper (figures from shared/reference/architectures.md, section
named at each row), schedules counted in optimizer steps where the paper counts iterations,
and the trainer following such a schedule step by step, across a resume."""
import math

import pytest
import torch
from safetensors.torch import load_file

import specc
from specc.elab.recipe import describe_recipe
from specc.network import load_all
from specc.train.config import resolve
from specc.train.loop import Trainer
from specc.train.optim import make_optimizer, make_schedule
from specc.train.runs import read_metrics

from conftest import SPECS, run_main


def aug(name, **params):
    return {"name": name, **params}


# Inception-style patches: 8-100 % of the area, aspect ratio in [3/4, 4/3] (GoogLeNet §6,
# architectures.md 9.4; BN-Inception "as GoogLeNet", 10.3; torchvision's RandomResizedCrop)
INCEPTION = [aug("random_resized_crop", size=None, scale=[0.08, 1.0], ratio=[3 / 4, 4 / 3]),
             aug("hflip", p=0.5)]
ONE_CROP = aug("resize_crop", resize=256, crop=224)  # shorter side 256, centre 224x224
LIGHTING = aug("lighting", std=0.1)  # Krizhevsky et al. 2012: alpha_i ~ N(0, 0.1) (7.2)


def jitter(top: int) -> list:
    """Shorter side jittered in [256, top], a random 224 crop, flips, colour noise."""
    return [aug("scale_jitter", min=256, max=top), aug("random_crop", size=224, pad=0),
            aug("hflip", p=0.5), LIGHTING]

PAPERS = {  # (file, network): (augment, eval)
    # AlexNet 2012 §4.1 (7.2): shorter side 256, centre 256x256, random 224 (227 here) crops,
    # flips, PCA colour noise; test: ten crops (corners, centre, mirrored)
    ("alexnet.net", "alexnet_paper"): (
        [aug("resize_crop", resize=256, crop=256), aug("random_crop", size=227, pad=0),
         aug("hflip", p=0.5), LIGHTING], aug("ten_crop", resize=256, crop=227)),
    ("alexnet.net", "alexnet"): (
        [aug("resize_crop", resize=256, crop=256), aug("random_crop", size=224, pad=0),
         aug("hflip", p=0.5), LIGHTING], ONE_CROP),
    # VGG §3.1 (8.4): S jittered in [256, 512], random 224 crops, flips, RGB colour shift
    ("vgg.net", "vgg16"): (jitter(512), ONE_CROP),
    ("vgg.net", "vgg_a"): (jitter(512), ONE_CROP),
    # ResNet §3.4 (12.2): shorter side in [256, 480], random 224 crop or flip, colour noise
    ("resnet.net", "resnet50"): (jitter(480), ONE_CROP),
    ("resnet.net", "resnet50_v1"): (jitter(480), ONE_CROP),
    # PReLU-net (11.3): s jittered in [256, 512], random 224 crop, flips, colour altering
    ("prelu_net.net", "prelu_net_a"): (jitter(512), ONE_CROP),
    ("googlenet.net", "googlenet_paper"): (INCEPTION, ONE_CROP),
    ("googlenet.net", "googlenet"): (INCEPTION, ONE_CROP),
    ("bn_inception.net", "bn_inception"): (INCEPTION, ONE_CROP),
    # CIFAR ResNets §4.2 (12.4): 4 pixels padded, random 32x32 crop, flip; the original view
    # for testing (no eval record: in-memory test images are used as they are)
    ("cifar_resnet.net", "resnet20"): (
        [aug("random_crop", size=32, pad=4), aug("hflip", p=0.5)], None),
    ("cifar_resnet.net", "resnet110"): (
        [aug("random_crop", size=32, pad=4), aug("hflip", p=0.5)], None),
}


@pytest.mark.parametrize("path,name", list(PAPERS))
def test_paper_recipe_augments_as_its_paper(path, name):
    recipe = specc.load(SPECS / path, name).recipe
    augment, evaluation = PAPERS[path, name]
    assert recipe["augment"] == augment
    assert recipe.get("eval") == evaluation


CROPS = {"random_resized_crop", "random_crop"}


def test_every_image_recipe_crops_and_flips():
    """Every bundled network trained on ImageNet or CIFAR-10 augments with a random crop and a
    flip, whether its recipe is a paper's or torchvision's reference recipe (anchors-next.md:
    RandomResizedCrop(224) + RandomHorizontalFlip(0.5)); a recipe that lost them fails here."""
    seen = {}
    for path in sorted(SPECS.glob("*.net")):
        for _, net, _ in load_all(path):
            if net is None or net.recipe.get("data") not in ("imagefolder", "cifar10"):
                continue
            names = [r["name"] for r in net.recipe.get("augment", [])]
            assert CROPS & set(names) and "hflip" in names, (path.name, net.name, names)
            seen[path.stem] = seen.get(path.stem, 0) + 1
    # every convnet file of the zoo (62 networks today); the early networks train on their
    # own small sets
    assert set(seen) == {"alexnet", "bn_inception", "cifar_resnet", "convnext", "densenet",
                         "efficientnet", "efficientnet_v2", "googlenet", "inception_v3",
                         "maxvit", "mnasnet", "mobilenet", "prelu_net", "regnet", "resnet",
                         "resnet34_shortcuts", "resnext", "shufflenet", "squeezenet", "swin",
                         "vgg", "vit"}
    assert sum(seen.values()) >= 62


def lrs_per_step(recipe: dict, steps: int) -> list[float]:
    """The lr of each optimizer step 1..steps under the recipe's schedule."""
    opt = make_optimizer(recipe["optimizer"], [torch.nn.Parameter(torch.zeros(1))])
    make_schedule(recipe["schedule"], opt, recipe["epochs"], recipe.get("warmup", 0))
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradient: the parameter stays, the schedule's hook counts the step
    return lrs


def test_cifar_schedule_counts_the_papers_iterations():
    """He et al. 2016 §4.2 (12.4): batch 128, lr 0.1, /10 at 32k and 48k iterations, stop at
    64k."""
    recipe = specc.load(SPECS / "cifar_resnet.net", "resnet20").recipe
    assert (recipe["batch_size"], recipe["steps"]) == (128, 64000)
    assert recipe["schedule"] == {"name": "multistep", "milestones": [32000, 48000],
                                  "gamma": 0.1, "unit": "steps"}
    assert "warmup" not in recipe or not recipe["warmup"].get("steps")
    per_epoch = math.ceil(50_000 / 128)  # 391 steps of the 50k training images
    assert (recipe["epochs"] - 1) * per_epoch < 64000 <= recipe["epochs"] * per_epoch
    lr = lrs_per_step(recipe, 48001)  # (no milestone after 48000: 0.001 to the end)
    assert lr[0] == lr[31999] == pytest.approx(0.1)  # steps 1..32000
    assert lr[32000] == lr[47999] == pytest.approx(0.01)  # 32001..48000
    assert lr[48000] == pytest.approx(0.001)  # 48001..64000


@pytest.mark.parametrize("name", ["resnet110", "resnet1202"])
def test_deep_cifar_resnets_hold_lr_001_for_400_steps(name):
    """§4.2: ResNet-110 warms up at lr 0.01 for about 400 iterations, then 0.1 (the spec does
    the same for 1202); the drops stay at 32k and 48k."""
    recipe = specc.load(SPECS / "cifar_resnet.net", name).recipe
    assert recipe["warmup"] == {"name": "hold", "steps": 400, "lr": 0.01}
    lr = lrs_per_step(recipe, 32001)
    assert lr[0] == lr[399] == pytest.approx(0.01)  # steps 1..400
    assert lr[400] == lr[31999] == pytest.approx(0.1)  # 401..32000
    assert lr[32000] == pytest.approx(0.01)


@pytest.mark.parametrize("path,name,steps,epochs", [
    ("vgg.net", "vgg16", 370_000, 74),  # §3.1 (8.4): stopped at 370K iterations (74 epochs)
    ("resnet.net", "resnet50", 600_000, 120),  # §3.4 (12.2): up to 60e4 iterations
])
def test_imagenet_runs_stop_at_the_papers_iteration(path, name, steps, epochs):
    recipe = specc.load(SPECS / path, name).recipe
    assert (recipe["batch_size"], recipe["steps"], recipe["epochs"]) == (256, steps, epochs)
    per_epoch = math.ceil(1_280_000 / 256)  # ImageNet's 1.28 M training images
    assert (epochs - 1) * per_epoch < steps <= epochs * per_epoch  # the limit ends the last epoch
    assert recipe["schedule"]["name"] == "plateau"  # /10 when the error plateaus


def test_check_shows_the_recipe_in_the_papers_units():
    r = run_main("check", "specs/cifar_resnet.net:resnet110")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "batch 128, 164 epochs or 64000 steps (whichever ends first)" in text
    assert 'multistep(milestones=[32000, 48000], gamma=0.1, unit="steps")' in text
    assert "warmup hold(steps=400, lr=0.01)" in text
    assert "augment random_crop(size=32, pad=4), hflip(p=0.5)" in text


@pytest.mark.parametrize("path,name,augment", [
    ("prelu_net.net", "prelu_net_a", "augment scale_jitter(min=256, max=512), random_crop("
                                     "size=224, pad=0), hflip(p=0.5), lighting(std=0.1)"),
    ("bn_inception.net", "bn_inception", "augment random_resized_crop(scale=[0.08, 1], "
                                         "ratio=[0.75, 1.33333]), hflip(p=0.5)"),
    ("googlenet.net", "googlenet_paper", "augment random_resized_crop(scale=[0.08, 1], "
                                         "ratio=[0.75, 1.33333]), hflip(p=0.5)"),
])
def test_check_states_each_value_of_the_augmentation(path, name, augment):
    lines = [ln.strip() for ln in describe_recipe(specc.load(SPECS / path, name).recipe)]
    assert augment in lines
    assert "eval resize_crop(resize=256, crop=224)" in lines


SMALL = """specc 1
network mlp {
    input image: f32[N, 1, 8, 8]
    output logits = linear(flatten(image), 10)
    train {
        data = "digits"
        batch_size = 64
        epochs = 2
        steps = 30
        optimizer = sgd(lr=0.1, momentum=0.9)
        schedule = multistep(milestones=[10, 25], gamma=0.1, unit="steps")
        warmup = hold(steps=4, lr=0.01)
    }
}
"""


def _train(spec, run, steps, resume=False):
    net = specc.load(spec)
    cfg = resolve(str(spec), "mlp", net.recipe, {"steps": steps, "eval_every": 1,
                                                 "eval_steps": 1, "device": "cpu"})
    return Trainer(net, cfg, run, show_progress=False).fit(resume=resume)


def _lrs(run):
    """step -> lr from metrics.csv: a row after step k shows the lr of step k + 1."""
    return {int(r["step"]): float(r["lr"]) for r in read_metrics(run)}


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """30 steps of SMALL on the digits (23 batches of 64 an epoch), one row per step."""
    tmp = tmp_path_factory.mktemp("steps")
    (tmp / "mlp.net").write_text(SMALL)
    return tmp, _train(tmp / "mlp.net", tmp / "a", 30)


def test_trainer_drops_the_lr_on_the_step(straight):
    """The hold ends after step 4, the drops come after steps 10 and 25 (inside epoch 2), and
    the run ends at step 30."""
    tmp, result = straight
    assert result["steps"] == 30 and result["epochs"] == 1  # stopped inside epoch 2
    want = {k: 0.01 if k < 4 else 0.1 if k < 10 else 0.01 if k < 25 else 0.001
            for k in range(1, 31)}
    assert _lrs(tmp / "a") == pytest.approx(want)


def test_a_step_schedule_resumes_in_step(straight):
    """Stopped at step 12 and resumed: the same lr at every step and the same weights."""
    tmp, _ = straight
    _train(tmp / "mlp.net", tmp / "b", 12)
    _train(tmp / "mlp.net", tmp / "b", 30, resume=True)
    assert _lrs(tmp / "b") == _lrs(tmp / "a")
    a = load_file(str(tmp / "a" / "checkpoint.safetensors"))
    b = load_file(str(tmp / "b" / "checkpoint.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_hand_edited_config_mixing_units_is_refused():
    opt = make_optimizer({"name": "sgd", "lr": 0.1}, [torch.nn.Parameter(torch.zeros(1))])
    with pytest.raises(specc.SpeccError, match="the warm-up counts epochs but the schedule "
                                               "counts steps"):
        make_schedule({"name": "step", "every": 100, "unit": "steps"}, opt, 10,
                      {"name": "hold", "epochs": 1, "lr": 0.01})
    with pytest.raises(specc.SpeccError, match="plateau takes no warm-up"):
        make_schedule({"name": "plateau"}, opt, 10, 2)


def test_cosine_after_a_hold_runs_from_the_start():
    """hold(...) before cosine (a TypeError before): the cosine's clock starts at epoch 0."""
    opt = make_optimizer({"name": "sgd", "lr": 1.0}, [torch.nn.Parameter(torch.zeros(1))])
    schedule = make_schedule({"name": "cosine", "min_lr": 0.0}, opt, 4,
                             {"name": "hold", "epochs": 1, "lr": 0.5})
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    # cos over T_max = 4 epochs: 1, 0.854, 0.5, 0.146; the first epoch held at 0.5
    assert lrs == pytest.approx([0.5, (1 + math.cos(math.pi / 4)) / 2, 0.5,
                                 (1 + math.cos(3 * math.pi / 4)) / 2], abs=1e-6)
