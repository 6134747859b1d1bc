def handler(event, context):
    return {"echo": len(event.get("image", ""))}
