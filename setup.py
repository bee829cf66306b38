"""ament_python package definition of mot_ros.

``scripts/ament_dev_prefix.py`` reads ``data_files`` and the console scripts from here (as colcon
does, by capturing the ``setup()`` call) and mirrors them into the development venv, because
``pip install -e .`` installs no data files.
"""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "mot_ros"

DATA_FILES = [
    ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
    ("share/" + PACKAGE, ["package.xml"]),
    ("share/" + PACKAGE + "/launch", sorted(glob("launch/*.launch.py"))),
    ("share/" + PACKAGE + "/config", sorted(glob("config/*.yaml") + glob("config/*.xml"))),
    ("share/" + PACKAGE + "/models",
     sorted(glob("models/*.pt") + glob("models/*.xml") + glob("models/*.bin") + ["models/README.md"])),
    ("share/" + PACKAGE + "/data", ["data/demo_shapes.mp4"]),
]

ENTRY_POINTS = {
    "console_scripts": [
        "tracker_node = mot_ros.ros.tracker_node:main",
        "mot_track = mot_ros.tools.mot_track:main",
        "mot_demo = mot_ros.tools.demo:main",
        "bag_replay = mot_ros.ros.bag_replay:main",
    ],
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=DATA_FILES,
    package_data={PACKAGE: ["py.typed"]},
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="mot_ros maintainers",
    maintainer_email="maintainers@mot-ros.dev",
    description="Persistent multi-object tracking for ROS 2: YOLOv8 detection + DeepSORT, vision_msgs output.",
    license="AGPL-3.0-only",
    entry_points=ENTRY_POINTS,
)
