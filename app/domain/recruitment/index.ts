/**
 * The recruitment context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { APPLICATION_FORM_FIELDS, CAMPAIGN_FORM_FIELDS, RECRUITMENT_LIMITS, SALES_CHANNELS, applicationInputSchema, applyCapturedDepositPayment, approveApplication, campaignEvents, campaignFieldForForm, countApplicationsByStatus, createCampaign, getApplicationByToken, getApplicationForReview, getCampaign, getDepositForDealer, getDocument, getPublicCampaign, issuesToFields, listApplications, listCampaigns, listCampaignsPage, notAccepting, parseCampaignForm, reissueApplicationInvitation, respondToInfoRequest, reviewApplication, startDepositPayment, statusPath, submitApplication, transitionCampaign, updateCampaign, withdrawApplication } from "./recruitment.server";
export type { ApplicantView, Application, Campaign, CampaignEvent, PublicCampaign, ReviewEvent, ReviewView, UploadedDocument } from "./recruitment.server";
