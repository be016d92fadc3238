// The analysis pages, loaded as one chunk the first time one of them opens.
import "./analysis.css";

export { ComparePage } from "./ComparePage";
export { DoctorPage } from "./DoctorPage";
export { RedPage } from "./RedPage";
export { WhyPage } from "./WhyPage";
