"""Who a letter goes to: members of Congress, ZIP-to-district lookup, custom lists."""
