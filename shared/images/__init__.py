"""Menu and brand images: direct uploads to storage, checked and turned into WebP renditions.

Pure image work (limits, decoding, colour, renditions) knows nothing of storage or tenants; the
pipeline module ties it to blobs and the tenant schema. Nothing here imports azure.functions.
"""
