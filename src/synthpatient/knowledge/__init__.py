"""The cited clinical knowledge base behind cohorts made without input data.

Work in progress: the knowledge base and its loader exist; the cohort sampler, the request
parser and FHIR export (issue 6) are still to come.
"""

from synthpatient.knowledge._kb import KnowledgeBase, load_from_folder, load_knowledge_base
from synthpatient.knowledge._model import Comorbidity, Condition, Medication, Observation, Source

__all__ = ["Comorbidity", "Condition", "KnowledgeBase", "Medication", "Observation", "Source",
           "load_from_folder", "load_knowledge_base"]
